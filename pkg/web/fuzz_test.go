package web_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/web"
)

// The shapes FuzzDecodeStrict decodes into: a struct with every kind of
// field a request body has, the raw members the partial updates read, and
// a flat struct like the credentials.
type (
	fuzzInner struct {
		Role string `json:"role"`
		N    *int   `json:"n"`
	}
	fuzzEmbedded struct {
		Note string `json:"note"`
	}
	fuzzBody struct {
		fuzzEmbedded
		Name   string               `json:"name"`
		Count  int                  `json:"count"`
		OK     bool                 `json:"ok"`
		Ptr    *string              `json:"ptr"`
		Inner  fuzzInner            `json:"inner"`
		PInner *fuzzInner           `json:"pinner"`
		List   []fuzzInner          `json:"list"`
		Tags   map[string]string    `json:"tags"`
		ByName map[string]fuzzInner `json:"by_name"`
		Raw    json.RawMessage      `json:"raw"`
		Any    any                  `json:"any"`
		Hidden string               `json:"-"`
		Plain  string
	}
	fuzzFlat struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
)

// FuzzDecodeStrict checks DecodeStrict against its contract: it never
// panics; it fails only with a *fault.Error of kind Invalid (400) or
// Validation (422), never one that would answer 500; when it succeeds the
// body is valid JSON with no member twice in an object, no NUL in any
// string and every member of an object decoded into a struct named exactly
// as its field; and it refuses nothing else that encoding/json (with
// unknown fields disallowed) accepts.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"name":"a","count":3,"ok":true,"ptr":"p","inner":{"role":"user","n":1}}`,
		`{"pinner":{"role":"x"},"list":[{"role":"a"},{"role":"b","n":null}]}`,
		`{"tags":{"k":"v","K":"w"},"by_name":{"a":{"role":"r"}},"raw":[1,{"a":2}],"any":{"x":[null]}}`,
		`{"note":"embedded","Plain":"p"}`,
		`{"email":"ann@example.com","password":"Secret123"}`,
		`{"text":"hello","title":null}`,
		`{"name":"a","name":"b"}`,
		`{"name":"a","\u006eame":"b"}`,
		`{"inner":{"role":"user","Role":"admin"}}`,
		`{"NAME":"a"}`,
		`{"\u212Aey":"kelvin"}`,
		`{"name":"\u0000"}`,
		`{"tags":{"a\u0000":"v"}}`,
		`{"any":["\u0000"]}`,
		`{"Hidden":"x"}`,
		`{"-":"x"}`,
		`{"count":1e400}`,
		`{"count":99999999999999999999}`,
		`{"count":"1"}`,
		`{"name":"é😀\ud800"}`,
		"{\"name\":\"\xff\xfe\"}",
		`{"name":"a"} {}`,
		`{"name":"a"}]`,
		`{"name":"a"`,
		`[]`,
		`null`,
		`"text"`,
		``,
		` `,
		"\ufeff{}",
		strings.Repeat("[", 10000),
		strings.Repeat(`{"any":`, 200) + strings.Repeat("}", 200),
		`{"list":[` + strings.Repeat(`{"role":"r"},`, 100) + `{"ROLE":"x"}]}`,
		"{\"any\":{\"x\":[\x14\x14\x14null]}}", // hung: see TestDecodeStrictSyntaxErrorsEnd
		`{"list":[1 2]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkStrict(t, body, new(fuzzBody))
		checkStrict(t, body, new(map[string]json.RawMessage))
		checkStrict(t, body, new(fuzzFlat))
	})
}

// checkStrict decodes body into v (a pointer to a fresh value) strictly
// and checks the outcome against what the body holds.
func checkStrict(t *testing.T, body []byte, v any) {
	t.Helper()
	err := web.DecodeStrict(body, v)
	valid := json.Valid(body)
	dup, nul := duplicatesAndNUL(body)
	exact := true
	if valid {
		var tree any
		if json.Unmarshal(body, &tree) == nil {
			exact = exactNames(tree, reflect.TypeOf(v))
		}
	}
	if err != nil {
		fe, ok := err.(*fault.Error)
		if !ok || (fe.Kind != fault.Invalid && fe.Kind != fault.Validation) {
			t.Fatalf("DecodeStrict(%q) into %T = %#v, want a *fault.Error of kind Invalid or Validation", body, v, err)
		}
		if fe.Kind == fault.Validation && len(fe.Fields) == 0 {
			t.Fatalf("DecodeStrict(%q) into %T: a validation error names no field: %v", body, v, err)
		}
		if valid && !dup && !nul && exact && decodeLenient(body, reflect.New(reflect.TypeOf(v).Elem()).Interface()) == nil {
			t.Fatalf("DecodeStrict(%q) into %T = %v, but encoding/json accepts it and it breaks no strict rule", body, v, err)
		}
		return
	}
	switch {
	case !valid:
		t.Fatalf("DecodeStrict(%q) into %T succeeded on invalid JSON", body, v)
	case dup:
		t.Fatalf("DecodeStrict(%q) into %T succeeded with a member twice in an object", body, v)
	case nul:
		t.Fatalf("DecodeStrict(%q) into %T succeeded with NUL in a string", body, v)
	case !exact:
		t.Fatalf("DecodeStrict(%q) into %T succeeded with a member not named exactly as its field", body, v)
	}
}

// decodeLenient is encoding/json's own decoding of body into v, with
// unknown fields disallowed and nothing after the value.
func decodeLenient(body []byte, v any) error {
	if !json.Valid(body) {
		return errors.New("invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// duplicatesAndNUL reads body, valid JSON, token by token and reports
// whether an object has a member twice and whether a string (member name or
// value) holds NUL.
func duplicatesAndNUL(body []byte) (dup, nul bool) {
	type level struct {
		keys    map[string]bool // nil for an array
		wantKey bool
	}
	var stack []level
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return dup, nul
		}
		if s, ok := tok.(string); ok && strings.ContainsRune(s, 0) {
			nul = true
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if key, ok := tok.(string); ok {
				dup = dup || stack[n-1].keys[key]
				stack[n-1].keys[key] = true
				stack[n-1].wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, level{keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, level{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: in an object, a member name comes next.
		if n := len(stack); n > 0 && stack[n-1].keys != nil {
			stack[n-1].wantKey = true
		}
	}
}

// exactNames reports whether every member of an object that decodes into a
// struct of type t (or inside it) is named exactly as one of its fields;
// v is the value as json.Unmarshal reads it into an interface.
func exactNames(v any, t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return true
		}
		fields := fieldsOf(t)
		for name, member := range obj {
			ft, known := fields[name]
			if !known || !exactNames(member, ft) {
				return false
			}
		}
	case reflect.Map:
		obj, _ := v.(map[string]any)
		for _, member := range obj {
			if !exactNames(member, t.Elem()) {
				return false
			}
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return true // []byte and json.RawMessage
		}
		list, _ := v.([]any)
		for _, item := range list {
			if !exactNames(item, t.Elem()) {
				return false
			}
		}
	}
	return true
}

// fieldsOf maps the JSON names of the fields of struct type t, embedded
// structs' included, to their types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "":
			for k, ft := range fieldsOf(f.Type) {
				out[k] = ft
			}
		case !f.IsExported():
		case name == "":
			out[f.Name] = f.Type
		default:
			out[name] = f.Type
		}
	}
	return out
}

// TestDecodeStrictDeepNesting bounds the cost of a deeply nested body: a
// megabyte of '[' once made the member check build a path string per level
// as long as the depth (quadratic time and memory, gigabytes for one
// request). Now depth beyond encoding/json's limit is refused as malformed,
// and what is within it is still accepted.
func TestDecodeStrictDeepNesting(t *testing.T) {
	var v struct {
		Any any `json:"any"`
	}
	for _, tc := range []struct {
		name string
		body string
		ok   bool
	}{
		{"arrays at the limit", `{"any":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`, true},
		{"arrays past the limit", `{"any":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`, false},
		{"a megabyte of arrays", strings.Repeat("[", web.MaxBodyBytes), false},
		{"a megabyte of objects", strings.Repeat(`{"any":`, web.MaxBodyBytes/7), false},
		{"NUL deep down", `{"any":` + strings.Repeat("[", 9000) + `"\u0000"` + strings.Repeat("]", 9000) + `}`, false},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := web.DecodeStrict([]byte(tc.body), &v)
		runtime.ReadMemStats(&after)
		if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 64<<20 {
			t.Errorf("%s: DecodeStrict allocated %d MB", tc.name, allocated>>20)
		}
		if tc.ok != (err == nil) {
			t.Errorf("%s: DecodeStrict = %v, want success %v", tc.name, err, tc.ok)
		}
		if fe, isFault := err.(*fault.Error); err != nil && (!isFault || fe.Kind == fault.Internal) {
			t.Errorf("%s: DecodeStrict = %#v, want a client fault", tc.name, err)
		}
	}
}

// TestDecodeStrictSyntaxErrorsEnd keeps the inputs on which the member
// check once looped forever: a syntax error inside an array (a bad byte, a
// missing comma) left dec.More reporting another element that was never
// read, so one request held a CPU for good.
func TestDecodeStrictSyntaxErrorsEnd(t *testing.T) {
	for _, body := range []string{
		"[\x14]",
		"{\"any\":{\"x\":[\x14\x14\x14null]}}",
		`{"list":[1 2]}`,
		`{"list":[{"role":"a"} {"role":"b"}]}`,
		`{"any":[[1]x]}`,
		`[1,,2]`,
	} {
		done := make(chan error, 1)
		go func() {
			var v fuzzBody
			done <- web.DecodeStrict([]byte(body), &v)
		}()
		select {
		case err := <-done:
			if !fault.Is(err, fault.Invalid) {
				t.Errorf("DecodeStrict(%q) = %v, want an Invalid fault", body, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("DecodeStrict(%q) did not return within 5 s", body)
		}
	}
}

// FuzzParseID checks that ParseID, with the prefixes the services use,
// never panics, fails with a validation fault, accepts only digits after an
// optional prefix (no sign, no space), and that an id it reads is positive
// and reads back the same from each of its printed forms.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{
		"17", "REQ000017", "req17", "USR000002", "0017", "REQ", "REQ0", "0", "-1", "+1", " 1", "1 ",
		"REQ-1", "REQ+1", "1_000", "0x11", "9223372036854775807", "9223372036854775808",
		"REQ99999999999999999999", "١٧", "REQ\x0017", "", "ＲＥＱ17",
	} {
		f.Add(s, false)
	}
	f.Add("USR000002", true)
	f.Add("usr2", true)
	f.Fuzz(func(t *testing.T, raw string, user bool) {
		prefix := "REQ"
		if user {
			prefix = "USR"
		}
		id, err := web.ParseID(raw, prefix)
		if err != nil {
			if !fault.Is(err, fault.Validation) {
				t.Fatalf("ParseID(%q, %q) = %v, want a validation fault", raw, prefix, err)
			}
			return
		}
		if id <= 0 {
			t.Fatalf("ParseID(%q, %q) = %d, want a positive id", raw, prefix, id)
		}
		digits := raw
		if len(raw) > len(prefix) && strings.EqualFold(raw[:len(prefix)], prefix) {
			digits = raw[len(prefix):]
		}
		if digits == "" || strings.Trim(digits, "0123456789") != "" {
			t.Fatalf("ParseID(%q, %q) = %d, but %q is not all digits", raw, prefix, id, digits)
		}
		for _, form := range []string{
			strconv.FormatInt(id, 10),
			fmt.Sprintf("%s%06d", prefix, id),
			fmt.Sprintf("%s%06d", strings.ToLower(prefix), id),
		} {
			if again, err := web.ParseID(form, prefix); err != nil || again != id {
				t.Fatalf("ParseID(%q, %q) = %d, but ParseID(%q) = %d, %v", raw, prefix, id, form, again, err)
			}
		}
	})
}

// FuzzParsePage checks that ParsePage never panics on any raw query, that
// a page it accepts is within bounds (page from 1 to 1,000,000, size from 1
// to the maximum, an offset that does not overflow), that absent
// parameters keep their defaults, and that it names only page and size in
// its field errors.
func FuzzParsePage(f *testing.F) {
	for _, s := range []string{
		"", "page=1&size=50", "page=2&size=100", "page=0", "size=0", "size=101", "page=-1",
		"page=1000000&size=100", "page=1000001", "page=99999999999999999999", "size=1e2",
		"page=+3", "page= 3", "page=3&page=x", "size=%00", "size=%zz", "page;size=1", "page=٣",
	} {
		f.Add(s)
	}
	gin.SetMode(gin.TestMode)
	f.Fuzz(func(t *testing.T, rawQuery string) {
		for _, maxSize := range []int{100, 1000} {
			c := queryContext(rawQuery)
			p, fields := web.ParsePage(c, 50, maxSize)
			for _, fe := range fields {
				if fe.Field != "page" && fe.Field != "size" {
					t.Fatalf("ParsePage(%q) names field %q", rawQuery, fe.Field)
				}
			}
			if len(fields) > 0 {
				continue
			}
			if p.Number < 1 || p.Number > 1_000_000 || p.Size < 1 || p.Size > maxSize {
				t.Fatalf("ParsePage(%q, max %d) = %+v, out of bounds", rawQuery, maxSize, p)
			}
			if p.Offset() < 0 {
				t.Fatalf("ParsePage(%q) = %+v: offset %d", rawQuery, p, p.Offset())
			}
			q := c.Request.URL.Query()
			if (!q.Has("page") && p.Number != 1) || (!q.Has("size") && p.Size != 50) {
				t.Fatalf("ParsePage(%q) = %+v, want the defaults for absent parameters", rawQuery, p)
			}
		}
	})
}

// queryContext is a Gin context for a GET request with the given raw query.
func queryContext(rawQuery string) *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/", RawQuery: rawQuery}, Header: http.Header{}}
	return c
}
