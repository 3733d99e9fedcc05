package fault_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

func TestKindOf(t *testing.T) {
	nf := fault.New(fault.NotFound, "nf", "missing")
	tests := []struct {
		name string
		err  error
		want fault.Kind
	}{
		{"plain error is internal", errors.New("boom"), fault.Internal},
		{"fault", nf, fault.NotFound},
		{"wrapped fault", fmt.Errorf("ctx: %w", nf), fault.NotFound},
		{"fields", fault.Fields(fault.FieldError{Field: "a", Message: "b"}), fault.Validation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fault.KindOf(tt.err); got != tt.want {
				t.Errorf("KindOf = %v, want %v", got, tt.want)
			}
		})
	}
	if fault.Is(nil, fault.Internal) {
		t.Error("nil must not be classified")
	}
	cause := errors.New("cause")
	if e := (&fault.Error{Kind: fault.Conflict, Detail: "d", Err: cause}); !errors.Is(e, cause) {
		t.Error("Unwrap lost the cause")
	}
}

// sqlError is a driver's error with a SQLSTATE, as pgconn.PgError is.
type sqlError string

func (e sqlError) Error() string    { return "sql error " + string(e) }
func (e sqlError) SQLState() string { return string(e) }

// notSent is a driver's error for a statement never sent.
type notSent struct{}

func (notSent) Error() string     { return "conn closed" }
func (notSent) SafeToRetry() bool { return true }

func TestUnreachable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("boom"), false},
		{"refused, wrapped", fmt.Errorf("list tickets: %w", refused), true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"cut short", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), true},
		{"admin shutdown", fmt.Errorf("q: %w", sqlError("57P01")), true},
		{"connection failure", sqlError("08006"), true},
		{"too many connections", sqlError("53300"), true},
		{"unique violation", sqlError("23505"), false},
		{"syntax error", sqlError("42601"), false},
		{"never sent", fmt.Errorf("q: %w", notSent{}), true},
	} {
		if got := fault.Unreachable(c.err); got != c.want {
			t.Errorf("%s: Unreachable(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestWrap(t *testing.T) {
	if fault.Wrap(nil, "x") != nil {
		t.Error("Wrap(nil) is not nil")
	}
	nf := fault.New(fault.NotFound, "nf", "missing")
	if got := fault.Wrap(nf, "get %d", 7); got != nf {
		t.Errorf("Wrap(fault) = %v, want the fault itself", got)
	}
	plain := errors.New("boom")
	got := fault.Wrap(plain, "get %d", 7)
	if got.Error() != "get 7: boom" || !errors.Is(got, plain) {
		t.Errorf("Wrap(plain) = %v", got)
	}
}
