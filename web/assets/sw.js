// The g90 web app's service worker: it keeps the shell (the page, its
// script, style and icons) so that the app opens at once and offline,
// where the page then says that the panel is unreachable. The API is
// never cached: what it shows is live or marked as the last known.
// Notifications are shown through it (registration.showNotification).

const CACHE = 'g90-shell-v1';
const SHELL = ['./', 'assets/app.js', 'assets/app.css', 'assets/icon.svg', 'assets/icon-192.png', 'manifest.webmanifest'];

self.addEventListener('install', e => {
  e.waitUntil(caches.open(CACHE).then(c => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', e => {
  e.waitUntil((async () => {
    for (const k of await caches.keys()) if (k !== CACHE) await caches.delete(k);
    await self.clients.claim();
  })());
});

// The shell: from the cache at once, refreshed from the network behind
// it (stale-while-revalidate); the next start gets the new one.
self.addEventListener('fetch', e => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin) return;
  const scope = new URL(self.registration.scope);
  const path = url.pathname.slice(scope.pathname.length);
  if (path.startsWith('api/')) return; // live data only
  const key = e.request.mode === 'navigate' ? './' : e.request;
  e.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = await cache.match(key, { ignoreSearch: e.request.mode === 'navigate' });
    const fresh = fetch(e.request).then(res => {
      if (res.ok) cache.put(key, res.clone());
      return res;
    });
    if (cached) {
      e.waitUntil(fresh.catch(() => {}));
      return cached;
    }
    return fresh;
  })());
});

// A tap on a notification brings the app to the front.
self.addEventListener('notificationclick', e => {
  e.notification.close();
  e.waitUntil((async () => {
    const all = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    if (all.length > 0) return all[0].focus();
    return self.clients.openWindow(self.registration.scope);
  })());
});
