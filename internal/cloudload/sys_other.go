//go:build !linux

package cloudload

import "time"

// rss is not measured here.
func rss() (now, peak int64) { return 0, 0 }

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
