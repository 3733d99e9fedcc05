package user

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

// fuzzNow is the time the birth date checks compare with.
var fuzzNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// FuzzNormalizeEmail checks that NormalizeEmail never panics, refuses on
// the email field, and returns a trimmed, lower-case address of at most
// 255 bytes with a dot in its domain, which it returns unchanged when given
// again.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"ann@example.com", "  Ann@Example.COM ", "ann", "@example.com", "ann@example", "ann@@example.com",
		"Ann <ann@example.com>", `"ann smith"@example.com`, "ann@[127.0.0.1]", "ann@example.com.", "a@b.c",
		"ÅNN@ÉXAMPLE.COM", "İ@example.com", "K@example.com", "ann\x00@example.com", "\xff@example.com",
		"ann@exam ple.com", "ann(comment)@example.com", strings.Repeat("a", 250) + "@b.com", "", " ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		email, fe := NormalizeEmail(raw)
		if fe != nil {
			if fe.Field != "email" {
				t.Fatalf("NormalizeEmail(%q) refused on %q", raw, fe.Field)
			}
			return
		}
		domain := email[strings.LastIndex(email, "@")+1:]
		if email != strings.TrimSpace(email) || email != strings.ToLower(email) || len(email) > MaxEmailLen ||
			!strings.Contains(email, "@") || !strings.Contains(domain, ".") {
			t.Fatalf("NormalizeEmail(%q) = %q, not a trimmed lower-case address", raw, email)
		}
		if again, fe := NormalizeEmail(email); fe != nil || again != email {
			t.Fatalf("NormalizeEmail(%q) = %q, but NormalizeEmail(%q) = %q, %v", raw, email, email, again, fe)
		}
	})
}

// FuzzNormalizePhone checks that NormalizePhone never panics, refuses on
// the phone field, and only removes separators: what it returns is the
// digits and plus sign of the input, 7 to 15 digits, returned unchanged
// when given again.
func FuzzNormalizePhone(f *testing.F) {
	for _, s := range []string{
		"+79001234567", "+7 (900) 123-45-67", " 8 900 123 45 67 ", "1234567", "123456", "+0123456789",
		"++79001234567", "+7900123456789012", "7900-123-4567\n", "\u00a0+79001234567", "+7\u00a0900", "٧٩٠٠١٢٣٤٥٦٧",
		"+7.900.123.45.67", "+7/900", "", "()", "+", "12345678\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		phone, fe := NormalizePhone(raw)
		if fe != nil {
			if fe.Field != "phone" {
				t.Fatalf("NormalizePhone(%q) refused on %q", raw, fe.Field)
			}
			return
		}
		kept := strings.Map(func(r rune) rune {
			if r == '+' || ('0' <= r && r <= '9') {
				return r
			}
			return -1
		}, raw)
		digits := strings.TrimPrefix(phone, "+")
		if phone != kept || len(digits) < 7 || len(digits) > 15 || strings.Trim(digits, "0123456789") != "" {
			t.Fatalf("NormalizePhone(%q) = %q, want the 7 to 15 digits (and plus) of the input", raw, phone)
		}
		if again, fe := NormalizePhone(phone); fe != nil || again != phone {
			t.Fatalf("NormalizePhone(%q) = %q, but NormalizePhone(%q) = %q, %v", raw, phone, phone, again, fe)
		}
	})
}

// FuzzNormalizeINN checks that NormalizeINN never panics, refuses on the
// inn field, and accepts only 10 or 12 ASCII digits around spaces, which
// it returns trimmed and unchanged when given again.
func FuzzNormalizeINN(f *testing.F) {
	for _, s := range []string{"7707083893", "500100732259", " 7707083893 ", "770708389", "77070838931", "770708389a", "７７０７０８３８９３", "7707083893\n", "+707083893", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		inn, fe := NormalizeINN(raw)
		if fe != nil {
			if fe.Field != "inn" {
				t.Fatalf("NormalizeINN(%q) refused on %q", raw, fe.Field)
			}
			return
		}
		if inn != strings.TrimSpace(raw) || (len(inn) != 10 && len(inn) != 12) || strings.Trim(inn, "0123456789") != "" {
			t.Fatalf("NormalizeINN(%q) = %q, want 10 or 12 digits", raw, inn)
		}
		if again, fe := NormalizeINN(inn); fe != nil || again != inn {
			t.Fatalf("NormalizeINN(%q) = %q, but NormalizeINN(%q) = %q, %v", raw, inn, inn, again, fe)
		}
	})
}

// FuzzCheckName checks that CheckName never panics, refuses on the field
// it is given, and returns the name trimmed, at most 100 characters,
// unchanged when given again.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"Ann", "  Ann  ", "", " ", "Анна-Мария", "O'Brien", strings.Repeat("é", MaxNameLen), strings.Repeat("é", MaxNameLen+1), " " + strings.Repeat("a", MaxNameLen) + " ", "\xff\xfe", "a\x00b", "\u200b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		name, fe := CheckName("first_name", raw)
		if fe != nil {
			if fe.Field != "first_name" || utf8.RuneCountInString(strings.TrimSpace(raw)) <= MaxNameLen {
				t.Fatalf("CheckName(%q) = %+v, want a refusal on first_name for a long name only", raw, fe)
			}
			return
		}
		if name != strings.TrimSpace(raw) || utf8.RuneCountInString(name) > MaxNameLen {
			t.Fatalf("CheckName(%q) = %q, not trimmed or too long", raw, name)
		}
		if again, fe := CheckName("first_name", name); fe != nil || again != name {
			t.Fatalf("CheckName(%q) = %q, but CheckName(%q) = %q, %v", raw, name, name, again, fe)
		}
	})
}

// FuzzParseBirthDate checks that ParseBirthDate never panics, refuses on
// birth_date, and returns a UTC midnight not after now that prints back as
// the trimmed input.
func FuzzParseBirthDate(f *testing.F) {
	for _, s := range []string{
		"1990-05-17", " 1990-05-17 ", "2026-03-14", "2026-03-15", "0000-01-01", "9999-12-31", "1990-02-29", "1992-02-29",
		"1990-5-17", "17.05.1990", "1990-05-17T00:00:00Z", "+1990-05-17", "-1990-05-17", "19900517", "", "1990-05-17\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		d, fe := ParseBirthDate(raw, fuzzNow)
		if fe != nil {
			if fe.Field != "birth_date" {
				t.Fatalf("ParseBirthDate(%q) refused on %q", raw, fe.Field)
			}
			return
		}
		if d.After(fuzzNow) || d.Location() != time.UTC || d.Hour()+d.Minute()+d.Second()+d.Nanosecond() != 0 {
			t.Fatalf("ParseBirthDate(%q) = %v, want a UTC date not after %v", raw, d, fuzzNow)
		}
		if d.Format(time.DateOnly) != strings.TrimSpace(raw) {
			t.Fatalf("ParseBirthDate(%q) = %v, which prints as %s", raw, d, d.Format(time.DateOnly))
		}
	})
}

// FuzzCheckPassword checks that CheckPassword never panics, refuses with
// the contract's 400 (an Invalid fault on password), and accepts only a
// password of 8 to 128 characters with an upper-case letter, a lower-case
// letter and a digit, not on the common list and not holding the local
// part of the email.
func FuzzCheckPassword(f *testing.F) {
	for _, s := range [][2]string{
		{"Secret123", "ann@example.com"}, {"secret123", "ann@example.com"}, {"SECRET123", ""}, {"Secretabc", ""},
		{"Sh0rt", ""}, {"Password1", ""}, {"MyAnn123", "ann@example.com"}, {"MyANN123x", "ann@example.com"},
		{"Пароль123", ""}, {"ÅÄÖåäö٣٣", ""}, {strings.Repeat("Aa1", 43), ""}, {strings.Repeat("Aa1", 42) + "xx", ""},
		{"Secret123\x00", ""}, {"\xffSecret123", ""}, {"", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, password, email string) {
		err := CheckPassword(password, email)
		if err != nil {
			fe, ok := errors.AsType[*fault.Error](err)
			if !ok || fe.Kind != fault.Invalid || len(fe.Fields) != 1 || fe.Fields[0].Field != "password" {
				t.Fatalf("CheckPassword(%q) = %v, want an Invalid fault on password", password, err)
			}
			return
		}
		n := utf8.RuneCountInString(password)
		local, _, hasAt := strings.Cut(email, "@")
		switch {
		case n < MinPasswordLen || n > MaxPasswordLen:
			t.Fatalf("CheckPassword(%q) accepted %d characters", password, n)
		case !strings.ContainsFunc(password, unicode.IsUpper) || !strings.ContainsFunc(password, unicode.IsLower) || !strings.ContainsFunc(password, unicode.IsDigit):
			t.Fatalf("CheckPassword(%q) accepted a password without an upper-case letter, lower-case letter and digit", password)
		case IsCommonPassword(password):
			t.Fatalf("CheckPassword(%q) accepted a common password", password)
		case hasAt && len(local) >= 3 && strings.Contains(strings.ToLower(password), local):
			t.Fatalf("CheckPassword(%q, %q) accepted a password holding the email's local part", password, email)
		}
	})
}

// checkNormalised checks that every personal field of u is what its
// normaliser returns unchanged.
func checkNormalised(t *testing.T, u User) {
	t.Helper()
	same := func(v *string, norm func(string) (string, *fault.FieldError)) bool {
		if v == nil {
			return true
		}
		again, fe := norm(*v)
		return fe == nil && again == *v
	}
	name := func(v string) (string, *fault.FieldError) { return CheckName("name", v) }
	if !same(u.INN, NormalizeINN) || !same(u.Phone, NormalizePhone) ||
		!same(u.FirstName, name) || !same(u.LastName, name) || !same(u.FatherName, name) {
		t.Fatalf("user %+v holds a field that is not normalised", u)
	}
	if u.BirthDate != nil && (u.BirthDate.After(fuzzNow) || u.BirthDate.Location() != time.UTC) {
		t.Fatalf("user %+v born at %v", u, u.BirthDate)
	}
}

// optional is v when set, else nil: a member given or left out.
func optional(set bool, v string) *string {
	if !set {
		return nil
	}
	return &v
}

// FuzzRegistration checks that validating a registration never panics,
// fails only with a validation fault on its fields or the weak-password
// 400, and yields an active user of the role asked whose email and
// personal fields are normalised.
func FuzzRegistration(f *testing.F) {
	f.Add("ann@example.com", "Secret123", "7707083893", "+7 (900) 123-45-67", " Ann ", "Smith", "", "1990-05-17", uint8(0b111111))
	f.Add("ann@example.com", "Secret123", "", "", "", "", "", "", uint8(0))
	f.Add("ANN@EXAMPLE.COM", "annSecret1", "1", "2", "3", "4", "5", "6", uint8(0b111111))
	f.Add("bad", "weak", "77070838930", "123", strings.Repeat("x", 101), "", "", "2999-01-01", uint8(0b111111))
	f.Fuzz(func(t *testing.T, email, password, inn, phone, first, last, father, birth string, set uint8) {
		s := &Service{now: func() time.Time { return fuzzNow }}
		r := Registration{Email: email, Password: password, Profile: Profile{
			INN: optional(set&1 != 0, inn), Phone: optional(set&2 != 0, phone), FirstName: optional(set&4 != 0, first),
			LastName: optional(set&8 != 0, last), FatherName: optional(set&16 != 0, father), BirthDate: optional(set&32 != 0, birth),
		}}
		u, err := s.validate(r, access.RoleUser, true)
		if err != nil {
			fe, ok := errors.AsType[*fault.Error](err)
			fields := []string{"email", "password", "inn", "phone", "first_name", "last_name", "father_name", "birth_date"}
			if !ok || (fe.Kind != fault.Validation && fe.Code != "weak_password") || len(fe.Fields) == 0 ||
				slices.ContainsFunc(fe.Fields, func(f fault.FieldError) bool { return !slices.Contains(fields, f.Field) }) {
				t.Fatalf("validate(%+v) = %v, want a fault on its fields", r, err)
			}
			return
		}
		if again, fe := NormalizeEmail(u.Email); fe != nil || again != u.Email || u.Role != access.RoleUser || !u.Active {
			t.Fatalf("validate(%+v) = %+v, want an active user with a normalised email", r, u)
		}
		checkNormalised(t, u)
	})
}

// FuzzProfilePatch checks that applying a partial profile update never
// panics, fails only with a validation fault on its fields, and otherwise
// leaves the fields not given unchanged, clears those given null and
// stores the others normalised.
func FuzzProfilePatch(f *testing.F) {
	f.Add("7707083893", "+7 (900) 123-45-67", " Ann ", "Smith", "", "1990-05-17", uint8(0b111111), uint8(0))
	f.Add("", "", "", "", "", "", uint8(0b111111), uint8(0b111111))
	f.Add("1", "2", "x", "y", "z", "2999-01-01", uint8(0b111111), uint8(0))
	f.Add("", "", "", "", "", "", uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, inn, phone, first, last, father, birth string, set, null uint8) {
		field := func(bit uint8, v string) Field {
			if set&bit == 0 {
				return Field{}
			}
			if null&bit != 0 {
				return Field{Set: true}
			}
			return Field{Set: true, Value: &v}
		}
		p := ProfilePatch{
			INN: field(1, inn), Phone: field(2, phone), FirstName: field(4, first),
			LastName: field(8, last), FatherName: field(16, father), BirthDate: field(32, birth),
		}
		oldINN, oldPhone, oldName := "500100732259", "+79001234567", "Old"
		oldBirth := time.Date(1980, 1, 2, 0, 0, 0, 0, time.UTC)
		before := User{ID: 1, Email: "ann@example.com", INN: &oldINN, Phone: &oldPhone, FirstName: &oldName, LastName: &oldName, FatherName: &oldName, BirthDate: &oldBirth}
		u := before
		s := &Service{now: func() time.Time { return fuzzNow }}
		if err := s.apply(p, &u); err != nil {
			fields := []string{"inn", "phone", "first_name", "last_name", "father_name", "birth_date"}
			fe, ok := errors.AsType[*fault.Error](err)
			if !ok || fe.Kind != fault.Validation || len(fe.Fields) == 0 ||
				slices.ContainsFunc(fe.Fields, func(f fault.FieldError) bool { return !slices.Contains(fields, f.Field) }) {
				t.Fatalf("apply(%+v) = %v, want a validation fault on its fields", p, err)
			}
			return
		}
		checkNormalised(t, u)
		for _, c := range []struct {
			f             Field
			before, after *string
		}{{p.INN, before.INN, u.INN}, {p.Phone, before.Phone, u.Phone}, {p.FirstName, before.FirstName, u.FirstName}, {p.LastName, before.LastName, u.LastName}, {p.FatherName, before.FatherName, u.FatherName}} {
			switch {
			case !c.f.Set && c.after != c.before:
				t.Fatalf("apply(%+v) changed a field it was not given", p)
			case c.f.Set && c.f.Value == nil && c.after != nil:
				t.Fatalf("apply(%+v) kept a field given null", p)
			case c.f.Set && c.f.Value != nil && c.after == nil:
				t.Fatalf("apply(%+v) cleared a field given a value", p)
			}
		}
		if (!p.BirthDate.Set && u.BirthDate != before.BirthDate) || (p.BirthDate.Set && (p.BirthDate.Value == nil) != (u.BirthDate == nil)) {
			t.Fatalf("apply(%+v): birth date %v", p, u.BirthDate)
		}
		if u.ID != before.ID || u.Email != before.Email {
			t.Fatalf("apply(%+v) changed the id or email: %+v", p, u)
		}
	})
}
