package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/g90alarm/g90", Version: "v0.0.0-20261203080000-3f2a9c1d0e4b+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"},
			{Key: "GOARCH", Value: "arm"},
			{Key: "GOARM", Value: "7"},
			{Key: "vcs.revision", Value: "3f2a9c1d0e4b5a6b7c8d9e0f1a2b3c4d5e6f7a8b"},
			{Key: "vcs.time", Value: "2026-12-03T08:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	for _, tc := range []struct {
		name, stamped string
		want          Info
		line          string
	}{
		{"module version", "", Info{
			Version: "v0.0.0-20261203080000-3f2a9c1d0e4b+dirty", Revision: "3f2a9c1d0e4b5a6b7c8d9e0f1a2b3c4d5e6f7a8b",
			Time: "2026-12-03T08:00:00Z", Modified: true, GoVersion: "go1.26.8", OS: "linux", Arch: "armv7",
		}, "g90 v0.0.0-20261203080000-3f2a9c1d0e4b+dirty (3f2a9c1d0e4b+dirty 2026-12-03T08:00:00Z) go1.26.8 linux/armv7"},
		{"release stamp wins", "v0.4.0", Info{
			Version: "v0.4.0", Revision: "3f2a9c1d0e4b5a6b7c8d9e0f1a2b3c4d5e6f7a8b",
			Time: "2026-12-03T08:00:00Z", Modified: true, GoVersion: "go1.26.8", OS: "linux", Arch: "armv7",
		}, "g90 v0.4.0 (3f2a9c1d0e4b+dirty 2026-12-03T08:00:00Z) go1.26.8 linux/armv7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fromBuildInfo(bi, tc.stamped)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Info (-want +got):\n%s", d)
			}
			if s := got.String(); s != tc.line {
				t.Errorf("String() = %q, want %q", s, tc.line)
			}
		})
	}
}

func TestFromBuildInfoNone(t *testing.T) {
	got := fromBuildInfo(nil, "")
	if got.Version != "(devel)" || got.GoVersion == "" || got.OS == "" || got.Arch == "" {
		t.Errorf("without build info: %+v", got)
	}
	if got.Revision != "" || got.ShortRevision() != "" {
		t.Errorf("revision without build info: %+v", got)
	}
}

func TestRead(t *testing.T) {
	// A test binary has build info; its main module is this one.
	if got := Read(); got.Version == "" || got.GoVersion == "" {
		t.Errorf("Read() = %+v", got)
	}
}
