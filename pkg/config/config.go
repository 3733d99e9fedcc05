// Package config reads typed settings from the environment. Each service
// declares one config struct in its config.go and fills it with a Reader, so
// the environment is read once, in one place.
package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Reader reads settings through getenv and collects every problem it meets,
// so that a misconfigured service reports all of them at once. Any setting
// X may come from a file instead: X_FILE names it (as Docker and Kubernetes
// secrets are mounted), and its content, less surrounding white space, is
// the value; X itself wins when both are set.
type Reader struct {
	getenv   func(string) string
	readFile func(string) ([]byte, error)
	errs     []error
}

// NewReader returns a Reader over getenv (os.Getenv in production).
func NewReader(getenv func(string) string) *Reader {
	return &Reader{getenv: getenv, readFile: os.ReadFile}
}

func (r *Reader) lookup(key string) (string, bool) {
	if v := strings.TrimSpace(r.getenv(key)); v != "" {
		return v, true
	}
	path := strings.TrimSpace(r.getenv(key + "_FILE"))
	if path == "" {
		return "", false
	}
	b, err := r.readFile(path)
	if err != nil {
		r.Check(fmt.Errorf("%s_FILE: %w", key, err))
		return "", false
	}
	v := strings.TrimSpace(string(b))
	return v, v != ""
}

// String returns the value of key, or def when it is unset or empty.
func (r *Reader) String(key, def string) string {
	if v, ok := r.lookup(key); ok {
		return v
	}
	return def
}

// Required returns the value of key and records an error when it is unset.
func (r *Reader) Required(key string) string {
	v, ok := r.lookup(key)
	if !ok {
		r.errs = append(r.errs, fmt.Errorf("%s is required", key))
	}
	return v
}

// Int returns key as an integer, or def.
func (r *Reader) Int(key string, def int) int {
	return parse(r, key, def, "an integer", strconv.Atoi)
}

// Bool returns key as a boolean (true/false/1/0, any case), or def.
func (r *Reader) Bool(key string, def bool) bool {
	return parse(r, key, def, "a boolean", func(v string) (bool, error) { return strconv.ParseBool(strings.ToLower(v)) })
}

// Duration returns key as a Go duration ("30s", "5m"), or def.
func (r *Reader) Duration(key string, def time.Duration) time.Duration {
	return parse(r, key, def, "a duration", time.ParseDuration)
}

// parse returns key read by read, or def when it is unset; a value read
// cannot take is recorded as not being what.
func parse[T any](r *Reader, key string, def T, what string, read func(string) (T, error)) T {
	v, ok := r.lookup(key)
	if !ok {
		return def
	}
	out, err := read(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not %s", key, v, what))
		return def
	}
	return out
}

// Check records err, if not nil, as a configuration problem.
func (r *Reader) Check(err error) {
	if err != nil {
		r.errs = append(r.errs, err)
	}
}

// Err returns every problem met so far, joined, or nil.
func (r *Reader) Err() error {
	return errors.Join(r.errs...)
}

// Secret is a string that never shows itself in logs or formatted output.
type Secret string

// String masks the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "********"
}

// LogValue masks the secret in slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Reveal returns the secret itself, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// MinSecretKeyBytes is the shortest SECRET_KEY accepted outside DEBUG mode.
const MinSecretKeyBytes = 32

// exampleKeys are values published in documentation; a key equal to one of
// them is as good as no key.
var exampleKeys = []string{
	"your-secure-secret-key",
	"your-secret-key",
	"secret",
	"changeme",
	"change-me-to-a-long-random-string-of-at-least-32-bytes",
	"dev-only-insecure-secret-key-change-me-0123456789",
}

// CheckSecretKey rejects a missing or published SECRET_KEY in every mode
// (anyone can sign tokens with a published one), and a short one unless
// debug is set.
func CheckSecretKey(key Secret, debug bool) error {
	k := key.Reveal()
	if k == "" {
		return errors.New("SECRET_KEY is required")
	}
	for _, ex := range exampleKeys {
		if strings.EqualFold(k, ex) {
			return errors.New("SECRET_KEY is a published example value: generate a random one, e.g. with `openssl rand -hex 32`")
		}
	}
	if !debug && len(k) < MinSecretKeyBytes {
		return fmt.Errorf("SECRET_KEY must be at least %d bytes (set DEBUG=true to allow a weak key in development)", MinSecretKeyBytes)
	}
	return nil
}

// WantsHelp reports whether a command's arguments ask for its usage (-h,
// -help, --help or help), which a binary prints without reading its
// configuration.
func WantsHelp(args []string) bool {
	return len(args) > 0 && slices.Contains([]string{"-h", "-help", "--help", "help"}, args[0])
}

// CheckArgs handles a service binary's arguments before anything starts:
// it prints usage to out for help (done), accepts none, "serve" alone, or
// one of commands with its own arguments, and refuses anything else with
// the usage.
func CheckArgs(args []string, usage string, out io.Writer, commands ...string) (done bool, err error) {
	switch {
	case WantsHelp(args):
		fmt.Fprintln(out, usage)
		return true, nil
	case len(args) == 0, len(args) == 1 && args[0] == "serve", slices.Contains(commands, args[0]):
		return false, nil
	}
	return false, fmt.Errorf("unexpected arguments %q; %s", args, usage)
}
