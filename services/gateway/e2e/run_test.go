package e2e

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
)

// TestMakeRunStopsEverything runs `make run` as a supervisor would, in a
// process group of its own, and stops it with a signal to the whole group
// (which make also passes on to the script), once the system runs and
// while it is still starting: every service it started must be gone, each
// time and for each of SIGINT, SIGTERM and SIGHUP.
func TestMakeRunStopsEverything(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is not installed: the README's commands need it")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	databaseURL := pgtest.NewDatabase(t)
	natsURL := natstest.Start(t)
	// A test run under nohup starts with SIGHUP ignored, which make and
	// its script would inherit (and a shell cannot trap a signal ignored
	// on entry). Handled here meanwhile, it is at its default in them.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for _, c := range []struct {
		sig      syscall.Signal
		starting bool // signalled as soon as the first service answers
	}{
		{syscall.SIGTERM, false}, {syscall.SIGINT, false}, {syscall.SIGHUP, false},
		{syscall.SIGTERM, true}, {syscall.SIGINT, true}, {syscall.SIGHUP, true},
	} {
		sig := c.sig
		name := sig.String()
		if c.starting {
			name += " while starting"
		}
		t.Run(name, func(t *testing.T) {
			ports := map[string]string{}
			env := append(os.Environ(), "DATABASE_URL="+databaseURL, "NATS_URL="+natsURL, "LOG_DIR="+t.TempDir(), "READY_TIMEOUT=60")
			// Every listener on a port of its own, so that neither a
			// developer's `make run` nor a failed case's leftovers collide.
			for _, svc := range []string{"auth", "tickets", "audit", "webhooks", "gateway"} {
				ports[svc] = freePort(t)
				env = append(env, strings.ToUpper(svc)+"_ADDR=127.0.0.1:"+ports[svc], strings.ToUpper(svc)+"_URL=http://127.0.0.1:"+ports[svc])
			}
			ports["gateway admin"] = freePort(t)
			env = append(env, "GATEWAY_ADMIN_ADDR=127.0.0.1:"+ports["gateway admin"])
			cmd := exec.Command("make", "--no-print-directory", "run")
			cmd.Dir, cmd.Env = root, env
			out, err := os.Create(filepath.Join(t.TempDir(), "make-run.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			cmd.Stdout, cmd.Stderr = out, out
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			showLog := func() {
				log, _ := os.ReadFile(out.Name())
				t.Logf("---- make run ----\n%s", tail(string(log), 40))
			}

			up := func() bool { return healthy("http://127.0.0.1:" + ports["gateway"] + "/health") }
			if c.starting {
				up = func() bool { return healthy("http://127.0.0.1:" + ports["auth"] + "/health/ready") }
			}
			deadline := time.Now().Add(3 * time.Minute)
			for !up() {
				if time.Now().After(deadline) {
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					showLog()
					t.Fatal("make run did not start the system within 3 minutes")
				}
				time.Sleep(200 * time.Millisecond)
			}

			_ = syscall.Kill(-cmd.Process.Pid, sig)
			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				// Leave nothing running: SIGTERM lets the script stop
				// the services it started in sessions of their own.
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
				select {
				case <-exited:
				case <-time.After(2 * time.Minute):
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				}
				showLog()
				t.Fatalf("make run was still running 60 s after %v", sig)
			}
			for svc, port := range ports {
				if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
					conn.Close()
					showLog()
					t.Errorf("%s still listens on %s after make run stopped on %v", svc, port, sig)
				}
			}
		})
	}
}

func healthy(url string) bool {
	resp, err := http.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
