package vectors

import (
	"reflect"
	"strings"
	"testing"
)

const sample = `# preamble comment
@vector generic.invalid_utf8
@opts timeout=0.1 retries=2
> ISTART[206,206,""]IEND\u0000
<hex 49 53 54 41 52 54 DE 61 64 62 65 65 66 49 45 4E 44 00
= body decodes with replacement to "\uFFFDadbeef"

@vector discovery.targeted
@dest 255.255.255.255:12900
> IWTAC_PROBE_DEVICE,DUMMYGUID\u0000
< IWTAC_PROBE_DEVICE_ACK,x\u0000
!
^ [170,[1,[1]]]\u0000
# a comment
`

func TestParse(t *testing.T) {
	vs, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := []Vector{
		{
			ID:   "generic.invalid_utf8",
			Opts: map[string]string{"timeout": "0.1", "retries": "2"},
			Line: 2,
			Steps: []Step{
				{Kind: Send, Bytes: []byte("ISTART[206,206,\"\"]IEND\x00"), Text: `ISTART[206,206,""]IEND\u0000`, Line: 4},
				{Kind: Reply, Bytes: []byte("ISTART\xdeadbeefIEND\x00"), Text: "49 53 54 41 52 54 DE 61 64 62 65 65 66 49 45 4E 44 00", Line: 5},
				// Escapes in expectations stay as written.
				{Kind: Expect, Text: `body decodes with replacement to "\uFFFDadbeef"`, Line: 6},
			},
		},
		{
			ID:   "discovery.targeted",
			Dest: "255.255.255.255:12900",
			Opts: map[string]string{},
			Line: 8,
			Steps: []Step{
				{Kind: Send, Bytes: []byte("IWTAC_PROBE_DEVICE,DUMMYGUID\x00"), Text: `IWTAC_PROBE_DEVICE,DUMMYGUID\u0000`, Line: 10},
				{Kind: Reply, Bytes: []byte("IWTAC_PROBE_DEVICE_ACK,x\x00"), Text: `IWTAC_PROBE_DEVICE_ACK,x\u0000`, Line: 11},
				{Kind: Silence, Line: 12},
				{Kind: Notify, Bytes: []byte("[170,[1,[1]]]\x00"), Text: `[170,[1,[1]]]\u0000`, Line: 13},
				{Kind: Comment, Text: "a comment", Line: 14},
			},
		},
	}
	if !reflect.DeepEqual(vs, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", vs, want)
	}
	if v, ok := Find(vs, "discovery.targeted"); !ok || v.Dest != "255.255.255.255:12900" {
		t.Errorf("Find(discovery.targeted) = %+v, %v", v, ok)
	}
	if _, ok := Find(vs, "nope"); ok {
		t.Error("Find(nope) found a vector")
	}
}

func TestParseCRLF(t *testing.T) {
	vs, err := Parse(strings.NewReader("@vector a\r\n> x\\u0000\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(vs[0].Steps[0].Bytes); got != "x\x00" {
		t.Errorf("bytes = %q, want %q", got, "x\x00")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, msg string
	}{
		{"step before vector", "> x\n", "before the first @vector"},
		{"unknown marker", "@vector a\n? x\n", "unknown line"},
		{"duplicate id", "@vector a\n!\n@vector a\n!\n", "duplicate vector"},
		{"empty id", "@vector \n!\n", "bad vector id"},
		{"no steps", "@vector a\n@vector b\n!\n", "has no steps"},
		{"no steps at end", "@vector a\n!\n@vector b\n", "has no steps"},
		{"trailing space", "@vector a\n> x \n", "trailing white space"},
		{"other escape", "@vector a\n> x\\n\n", "backslash"},
		{"bad hex", "@vector a\n<hex 4G\n", "bad hex"},
		{"odd hex", "@vector a\n<hex 4\n", "bad hex"},
		{"empty datagram", "@vector a\n> \n", "empty datagram"},
		{"bad opts", "@vector a\n@opts retries\n!\n", "not key=value"},
		{"duplicate opts", "@vector a\n@opts a=1 a=2\n!\n", "given twice"},
		{"second dest", "@vector a\n@dest x:1\n@dest y:2\n!\n", "second @dest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("Parse(%q) error = %v, want one containing %q", tc.in, err, tc.msg)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load("testdata/does-not-exist.txt"); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Send: "send", Reply: "reply", Notify: "notify", Silence: "silence", Expect: "expect", Comment: "comment", 0: "kind(0)", 99: "kind(99)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
