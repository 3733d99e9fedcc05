package api

import (
	"strings"
	"testing"
)

func TestNeutralise(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"plain text":        "plain text",
		"a-b, c+d e@f":      "a-b, c+d e@f",
		"=1+1":              "'=1+1",
		"a;=1+1":            "a;'=1+1",
		"a; =1+1":           "a; '=1+1",
		"a,+1":              "a,'+1",
		"a|@SUM(1)":         "a|'@SUM(1)",
		"line\n-2":          "line\n'-2",
		"a\t=1":             "a\t'=1",
		"\t=1":              "'\t'=1",
		"x;;=1":             "x;;'=1",
		"  -5 degrees":      "  '-5 degrees",
		"ok;fine,=cmd|' /C": "ok;fine,'=cmd|' /C",
	} {
		if got := neutralise(in); got != want {
			t.Errorf("neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzNeutralise checks that no piece of a neutralised cell, however a
// spreadsheet splits it, starts with a formula character, and that
// neutralising only ever adds single quotes.
func FuzzNeutralise(f *testing.F) {
	for _, s := range []string{"a;=1+1", "=1", "\t=1", "plain", "a, -1", "x\r\n@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := neutralise(s)
		if strings.ReplaceAll(out, "'", "") != strings.ReplaceAll(s, "'", "") {
			t.Fatalf("neutralise(%q) = %q changes more than quotes", s, out)
		}
		pieces := strings.FieldsFunc(out, func(r rune) bool { return strings.ContainsRune(cellSeparators, r) })
		for _, p := range pieces {
			if p = strings.TrimLeft(p, " "); p != "" && strings.ContainsRune("=+-@", rune(p[0])) {
				t.Fatalf("neutralise(%q) = %q leaves a piece starting %q", s, out, p)
			}
		}
	})
}
