// Package ids spells the display ids of the system's objects: a prefix and
// the integer id padded to six digits ("USR000001", "REQ000017"; longer
// past 999999). Every service writes them the same way; web.ParseID reads
// them back.
package ids

import "fmt"

// The prefixes of the display ids.
const (
	User    = "USR" // a user of any role
	Request = "REQ" // a support request (ticket)
)

// Display is the display id of the object of prefix with id.
func Display(prefix string, id int64) string { return fmt.Sprintf("%s%06d", prefix, id) }
