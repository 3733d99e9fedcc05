package web_test

import (
	"testing"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/web"
)

func TestDecodeStrictNested(t *testing.T) {
	type inner struct {
		Role string `json:"role"`
	}
	type outer struct {
		Name  string            `json:"name"`
		Inner inner             `json:"inner"`
		List  []inner           `json:"list"`
		Tags  map[string]string `json:"tags"`
	}
	var ok outer
	if err := web.DecodeStrict([]byte(`{"name":"a","inner":{"role":"user"},"list":[{"role":"x"}],"tags":{"k":"v","K":"w"}}`), &ok); err != nil {
		t.Fatalf("a well-formed body: %v", err)
	}
	for body, field := range map[string]string{
		`{"inner":{"role":"user","Role":"admin"}}`:    "inner.Role",
		`{"inner":{"role":"user","role":"admin"}}`:    "inner.role",
		`{"list":[{"role":"a"},{"ROLE":"b"}]}`:        "list[1].ROLE",
		`{"tags":{"k":"v","k":"w"}}`:                  "tags.k",
		`{"tags":{"k":"\u0000"}}`:                     "tags.k",
		`{"list":[{"role":"ok"},{"role":"a\u0000"}]}`: "list[1].role",
	} {
		var v outer
		err := web.DecodeStrict([]byte(body), &v)
		fe, isFault := err.(*fault.Error)
		if !isFault || fe.Kind != fault.Validation || len(fe.Fields) != 1 || fe.Fields[0].Field != field {
			t.Errorf("DecodeStrict(%s) = %v, want a validation error on %s", body, err, field)
		}
	}
}
