package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Scenario is the outcome of one scenario: its value, the baseline measured
// in the same run, their ratio (value / baseline), the target and whether
// the value meets it.
type Scenario struct {
	Title      string         `json:"title"`
	Value      float64        `json:"value"`
	Unit       string         `json:"unit"`
	Baseline   float64        `json:"baseline"`
	BaselineOf string         `json:"baseline_of"`
	Ratio      float64        `json:"ratio"`
	Target     string         `json:"target"`
	Met        bool           `json:"met"`
	Details    map[string]any `json:"details,omitempty"`
}

// Results are the outcomes of one run of `make bench`.
type Results struct {
	Commit    string              `json:"commit"`
	Dirty     bool                `json:"dirty"` // uncommitted changes were measured
	Date      time.Time           `json:"date"`
	Machine   Machine             `json:"machine"`
	Scenarios map[string]Scenario `json:"scenarios"`
}

// Machine is what the figures were measured on.
type Machine struct {
	Cores  int    `json:"cores"`
	Memory string `json:"memory"`
	OS     string `json:"os"`
}

func newResults(root string) *Results {
	r := &Results{Date: time.Now().UTC().Truncate(time.Second), Scenarios: map[string]Scenario{},
		Machine: Machine{Cores: runtime.NumCPU(), Memory: memTotal(), OS: runtime.GOOS + "/" + runtime.GOARCH}}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output(); err == nil {
		r.Commit = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
		r.Dirty = len(strings.TrimSpace(string(out))) > 0
	}
	return r
}

// memTotal reads the machine's memory from /proc/meminfo.
func memTotal() string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return "unknown"
}

// write saves the results as JSON and as a Markdown table.
func (r *Results) write(jsonPath, mdPath string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(jsonPath, append(b, '\n'), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# Benchmark results\n\n")
	fmt.Fprintf(&md, "Written by `make bench` (bench/main.go) on %s at commit `%s`%s; %d cores, %s.\n",
		r.Date.Format("2006-01-02 15:04 MST"), r.Commit, map[bool]string{true: " with uncommitted changes", false: ""}[r.Dirty],
		r.Machine.Cores, r.Machine.Memory)
	fmt.Fprintf(&md, "Each baseline is measured in the same run on the same machine; the ratio is value / baseline.\n\n")
	fmt.Fprintf(&md, "| # | scenario | value | baseline | ratio | target | met |\n|---|---|---|---|---|---|---|\n")
	names := make([]string, 0, len(r.Scenarios))
	for n := range r.Scenarios {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		s := r.Scenarios[n]
		fmt.Fprintf(&md, "| %s | %s | %s %s | %s %s (%s) | %.2f | %s | %s |\n", n, s.Title,
			num(s.Value), s.Unit, num(s.Baseline), s.Unit, s.BaselineOf, s.Ratio, s.Target, map[bool]string{true: "yes", false: "**no**"}[s.Met])
	}
	for _, n := range names {
		s := r.Scenarios[n]
		if len(s.Details) == 0 {
			continue
		}
		fmt.Fprintf(&md, "\n## %s: %s\n\n", n, s.Title)
		keys := make([]string, 0, len(s.Details))
		for k := range s.Details {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&md, "- %s: %v\n", k, s.Details[k])
		}
	}
	// The history of what was changed for which figure, kept by hand
	// beside the generated tables.
	if notes, err := os.ReadFile(filepath.Join(filepath.Dir(mdPath), "notes.md")); err == nil {
		md.WriteString("\n")
		md.Write(notes)
	}
	return os.WriteFile(mdPath, []byte(md.String()), 0o644)
}

func num(v float64) string {
	if v == float64(int64(v)) {
		return fmt.Sprint(int64(v))
	}
	return fmt.Sprintf("%.2f", v)
}
