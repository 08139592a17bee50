// Package packaging is how g90 gets onto a machine, tested as a user
// would use it: the release binaries that scripts/release cross-builds
// (run under qemu-user), the systemd unit (systemd/g90.service, checked
// with systemd-analyze) and the OpenWrt procd init script
// (openwrt/g90.init, run against a stand-in for procd).
//
// The package has no Go API. Its tests need Debian's qemu-user-static,
// systemd (for systemd-analyze), strace and busybox; without one, the
// tests that use it skip, unless G90_REQUIRE_QEMU,
// G90_REQUIRE_SYSTEMD_ANALYZE, G90_REQUIRE_STRACE or G90_REQUIRE_BUSYBOX
// is set, as .ci/run sets them all. The qemu test
// cross-builds two targets and is left out of -short runs.
package packaging
