package user

import (
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Limits from docs/API.md ("Auth").
const (
	MaxEmailLen    = 255
	MinPasswordLen = 8
	MaxPasswordLen = 128
	MaxNameLen     = 100
)

var (
	innPattern   = regexp.MustCompile(`^(\d{10}|\d{12})$`)
	phonePattern = regexp.MustCompile(`^\+?[1-9]\d{6,14}$`)
	phoneNoise   = strings.NewReplacer(" ", "", "-", "", "(", "", ")", "")
)

// NormalizeEmail trims and lower-cases an email and checks its form.
func NormalizeEmail(raw string) (string, *fault.FieldError) {
	email := strings.ToLower(strings.TrimSpace(raw))
	switch {
	case email == "":
		return "", &fault.FieldError{Field: "email", Message: "is required"}
	case len(email) > MaxEmailLen:
		return "", &fault.FieldError{Field: "email", Message: "must be at most 255 characters"}
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || !strings.Contains(email[strings.LastIndex(email, "@")+1:], ".") {
		return "", &fault.FieldError{Field: "email", Message: "is not a valid email address"}
	}
	return email, nil
}

// CheckPassword applies the password rules and returns the contract's 400
// "Password validation failed: ..." naming every rule broken.
func CheckPassword(password, email string) error {
	var broken []string
	n := len([]rune(password))
	if n < MinPasswordLen {
		broken = append(broken, "at least 8 characters")
	}
	if n > MaxPasswordLen {
		broken = append(broken, "at most 128 characters")
	}
	var upper, lower, digit bool
	for _, r := range password {
		upper = upper || unicode.IsUpper(r)
		lower = lower || unicode.IsLower(r)
		digit = digit || unicode.IsDigit(r)
	}
	if !upper {
		broken = append(broken, "an uppercase letter")
	}
	if !lower {
		broken = append(broken, "a lowercase letter")
	}
	if !digit {
		broken = append(broken, "a digit")
	}
	if IsCommonPassword(password) {
		broken = append(broken, "to be less common (it is on the list of common passwords)")
	}
	if local, _, ok := strings.Cut(email, "@"); ok && len(local) >= 3 && strings.Contains(strings.ToLower(password), local) {
		broken = append(broken, "no part of your email address")
	}
	if len(broken) == 0 {
		return nil
	}
	return &fault.Error{
		Kind:   fault.Invalid,
		Code:   "weak_password",
		Detail: "Password validation failed: the password needs " + strings.Join(broken, ", "),
		Fields: []fault.FieldError{{Field: "password", Message: "needs " + strings.Join(broken, ", ")}},
	}
}

// NormalizeINN checks an INN: digits only, 10 or 12 of them.
func NormalizeINN(raw string) (string, *fault.FieldError) {
	inn := strings.TrimSpace(raw)
	if !innPattern.MatchString(inn) {
		return "", &fault.FieldError{Field: "inn", Message: "must be 10 or 12 digits"}
	}
	return inn, nil
}

// NormalizePhone removes spaces, dashes and parentheses and checks what is left.
func NormalizePhone(raw string) (string, *fault.FieldError) {
	phone := phoneNoise.Replace(strings.TrimSpace(raw))
	if !phonePattern.MatchString(phone) {
		return "", &fault.FieldError{Field: "phone", Message: "must be 7 to 15 digits, optionally starting with +"}
	}
	return phone, nil
}

// CheckName trims a name and checks its length.
func CheckName(field, raw string) (string, *fault.FieldError) {
	name := strings.TrimSpace(raw)
	if len([]rune(name)) > MaxNameLen {
		return "", &fault.FieldError{Field: field, Message: "must be at most 100 characters"}
	}
	return name, nil
}

// ParseBirthDate parses YYYY-MM-DD and refuses dates in the future.
func ParseBirthDate(raw string, now time.Time) (time.Time, *fault.FieldError) {
	d, err := time.Parse(time.DateOnly, strings.TrimSpace(raw))
	if err != nil {
		return time.Time{}, &fault.FieldError{Field: "birth_date", Message: "must be a date as YYYY-MM-DD"}
	}
	if d.After(now) {
		return time.Time{}, &fault.FieldError{Field: "birth_date", Message: "must not be in the future"}
	}
	return d, nil
}
