// Package fault classifies errors by kind so that each transport maps a kind
// to a response once, while domain code stays free of HTTP.
package fault

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"
)

// Kind is the class of an error, independent of any transport.
type Kind int

// The kinds of error the services report.
const (
	Internal        Kind = iota // something broke; details are logged, never sent
	Invalid                     // the request is well formed but not acceptable (400)
	Validation                  // one or more fields are invalid (422)
	Unauthenticated             // no or bad credentials (401)
	Forbidden                   // authenticated but not allowed (403)
	NotFound                    // the resource does not exist or is hidden (404)
	NotAllowed                  // the resource does not support the method (405)
	TooSlow                     // the request did not arrive in time (408)
	Conflict                    // the state forbids the change (409)
	Precondition                // a conditional request failed (412)
	TooLarge                    // the request body is over the limit (413)
	TooMany                     // rate limited (429)
	Unavailable                 // a dependency is down (503)
	Timeout                     // a dependency did not answer in time (504)
)

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error with a kind, a human-readable detail that is safe to show
// to a client, and optionally the error that caused it.
type Error struct {
	Kind   Kind
	Code   string // stable machine-readable code, e.g. "email_taken"
	Detail string
	Fields []FieldError
	// RetryAfter, for TooMany and Unavailable, says when to try again.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Detail + ": " + e.Err.Error()
	}
	return e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of the given kind whose detail may be shown to clients.
func New(kind Kind, code, detail string) *Error {
	return &Error{Kind: kind, Code: code, Detail: detail}
}

// Newf is New with a formatted detail.
func Newf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Detail: fmt.Sprintf(format, args...)}
}

// Fields returns a Validation error listing the invalid fields.
func Fields(fields ...FieldError) *Error {
	return &Error{Kind: Validation, Code: "validation_failed", Detail: "The request has invalid fields", Fields: fields}
}

// KindOf reports the kind of err: the kind of the first *Error in its chain,
// or Internal when there is none.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return Internal
}

// Is reports whether err is classified as kind.
func Is(err error, kind Kind) bool {
	return err != nil && KindOf(err) == kind
}

// Unreachable reports whether err says that a dependency could not be
// reached or went away mid-request, rather than that the request or the
// code is wrong: a network error (refused, reset, timed out), a connection
// cut short, or a database error of SQLSTATE class 08 (connection
// exception), 57P (the server is shutting down or starting) or 53300 (too
// many connections). It recognises a driver's errors by their methods
// (SQLState, SafeToRetry), so that this package depends on no driver.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	if sqlErr, ok := errors.AsType[interface {
		error
		SQLState() string
	}](err); ok {
		state := sqlErr.SQLState()
		return strings.HasPrefix(state, "08") || strings.HasPrefix(state, "57P") || state == "53300"
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	// A driver's error that says the statement was never sent, such as
	// pgconn's "conn closed".
	if retry, ok := errors.AsType[interface {
		error
		SafeToRetry() bool
	}](err); ok && retry.SafeToRetry() {
		return true
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// Wrap adds context to an error of no kind, as fmt.Errorf(format+": %w")
// does, and returns a fault (or nil) as it is: a fault's detail is for the
// client, and its kind must reach the transport unchanged.
func Wrap(err error, format string, args ...any) error {
	if err == nil || KindOf(err) != Internal {
		return err
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
