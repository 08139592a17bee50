// Package buildinfo says which g90 is running: the version a release was
// stamped with (or the module version the go command recorded), the VCS
// revision and its time, and the Go toolchain and platform, for
// `g90 version`, the daemon's start log and the g90_build_info metric.
//
//	info := buildinfo.Read()
//	fmt.Println(info) // g90 v0.4.0 (3f2a9c1 2026-12-03T08:00:00Z) go1.26.8 linux/arm64
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set by release builds: go build -ldflags
// "-X github.com/g90alarm/g90/internal/buildinfo.version=v0.4.0".
var version string

// Info describes the running binary.
type Info struct {
	// Version is the release version, else the module version the go
	// command recorded ("(devel)" when it recorded none).
	Version string `json:"version"`
	// Revision and Time are the VCS commit the binary was built from and
	// its commit time (RFC 3339); "" when not built in a checkout.
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	// Modified says the checkout had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// GoVersion, OS and Arch are the toolchain and the platform.
	GoVersion string `json:"go"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
}

// Read returns the running binary's Info.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi, version)
}

func fromBuildInfo(bi *debug.BuildInfo, stamped string) Info {
	info := Info{Version: stamped, GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if bi == nil {
		if info.Version == "" {
			info.Version = "(devel)"
		}
		return info
	}
	if info.Version == "" {
		info.Version = bi.Main.Version
	}
	if info.Version == "" {
		info.Version = "(devel)"
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "GOOS":
			info.OS = s.Value
		case "GOARCH":
			info.Arch = s.Value
		case "GOARM":
			info.Arch += "v" + strings.TrimSuffix(s.Value, ",softfloat")
		}
	}
	return info
}

// ShortRevision is the first 12 characters of Revision, with "+dirty"
// when Modified.
func (i Info) ShortRevision() string {
	r := i.Revision
	if len(r) > 12 {
		r = r[:12]
	}
	if i.Modified && r != "" {
		r += "+dirty"
	}
	return r
}

// String is one line: "g90 VERSION (REVISION TIME) GO OS/ARCH".
func (i Info) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "g90 %s", i.Version)
	if r := i.ShortRevision(); r != "" {
		fmt.Fprintf(&b, " (%s", r)
		if i.Time != "" {
			fmt.Fprintf(&b, " %s", i.Time)
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, " %s %s/%s", i.GoVersion, i.OS, i.Arch)
	return b.String()
}
