package web

import (
	"strconv"
	"strings"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// ParseID reads a path id given as an integer ("17") or as a display id
// with its prefix ("REQ000017", any case).
func ParseID(raw, prefix string) (int64, error) {
	digits := raw
	if len(raw) > len(prefix) && strings.EqualFold(raw[:len(prefix)], prefix) {
		digits = raw[len(prefix):]
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id <= 0 || digits[0] < '0' || digits[0] > '9' { // ParseInt takes a sign
		return 0, fault.Fields(fault.FieldError{Field: "id", Message: "must be a positive integer or a display id like " + prefix + "000001"})
	}
	return id, nil
}
