package e2e

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestEveryBinaryAnswersHelp: --help prints the usage and exits 0 without
// reading any configuration (the environment is empty), and an unknown
// argument is refused with the usage, before anything starts.
func TestEveryBinaryAnswersHelp(t *testing.T) {
	for _, name := range []string{"auth", "tickets", "audit", "webhooks", "gateway"} {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			cmd := exec.Command(filepath.Join(binDir, name), "--help")
			cmd.Env, cmd.Stdout, cmd.Stderr = []string{}, &out, &errOut
			if err := cmd.Run(); err != nil || !strings.HasPrefix(out.String(), "usage: "+name) {
				t.Errorf("%s --help = %v, stdout %q, stderr %q; want the usage and exit 0", name, err, out.String(), errOut.String())
			}
			out.Reset()
			errOut.Reset()
			cmd = exec.Command(filepath.Join(binDir, name), "--port=1")
			cmd.Env, cmd.Stdout, cmd.Stderr = []string{}, &out, &errOut
			if err := cmd.Run(); err == nil || !strings.Contains(errOut.String(), "unexpected arguments") || !strings.Contains(errOut.String(), "usage:") {
				t.Errorf("%s --port=1 = %v, stderr %q; want a refusal with the usage", name, err, errOut.String())
			}
		})
	}
}
