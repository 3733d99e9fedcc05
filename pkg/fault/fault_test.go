package fault_test

import (
	"errors"
	"fmt"
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
