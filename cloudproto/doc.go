// Package cloudproto is the pure codec of the binary TCP protocol a G90
// panel speaks to its vendor cloud (spec: notifications-and-cloud.md D):
// the two header forms, every message kind M1–M12, the byte-exact replies
// a standalone server sends, and a stream framer that reassembles
// messages split across reads. What a message means as events is not
// here: notify.FromCloud turns status changes and wrapped notifications
// into the local notify.Message, whose mapping gives the events. It has no sockets, goroutines or clock;
// package cloud is the server built on top of it.
//
// Comments cite the specification as "spec: D.5.5" for sections of
// spec/notifications-and-cloud.md.
//
// Handling the bytes of one panel connection:
//
//	var f cloudproto.Framer
//	f.Feed(chunk)
//	for {
//		raw, err := f.Next()
//		if err != nil { // a *FrameError: bytes dropped to resynchronise
//			log.Warn("framing", "err", err)
//			continue
//		}
//		if raw == nil {
//			break // wait for the next chunk
//		}
//		m, err := cloudproto.Decode(raw)
//		if err != nil { // a *DecodeError; only this message is lost
//			continue
//		}
//		if g := m.GUID(); g != "" {
//			guid = g
//		}
//		reply = cloudproto.AppendReplies(reply[:0], &m, params)
//		nm, ok, err := notify.FromCloud(&m, guid) // the mapping lives in notify
//		if ok {
//			evs, _ = nm.Events(evs[:0])
//		}
//	}
//
// Slices in a decoded Message alias the bytes given to Decode, and the
// slices Framer.Next returns alias its buffer until the next Feed.
package cloudproto
