package web

import (
	"fmt"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Page is a page number, from 1, and a page size.
type Page struct {
	Number int
	Size   int
}

// Offset is the number of items before the page.
func (p Page) Offset() int { return (p.Number - 1) * p.Size }

// maxPageNumber keeps Offset far from overflow.
const maxPageNumber = 1_000_000

// ParsePage reads the page and size query parameters: page from 1 (default
// 1), size from 1 to maxSize (default defSize). Bad values are returned as
// field errors, for a 422 that names every bad parameter.
func ParsePage(c *gin.Context, defSize, maxSize int) (Page, []fault.FieldError) {
	p := Page{Number: 1, Size: defSize}
	var fields []fault.FieldError
	read := func(name string, dst *int, lo, hi int) {
		raw, ok := c.GetQuery(name)
		if !ok {
			return
		}
		n, err := strconv.Atoi(raw)
		if err != nil || n < lo || n > hi {
			fields = append(fields, fault.FieldError{Field: name, Message: fmt.Sprintf("must be an integer from %d to %d", lo, hi)})
			return
		}
		*dst = n
	}
	read("page", &p.Number, 1, maxPageNumber)
	read("size", &p.Size, 1, maxSize)
	return p, fields
}

// PageOf is the contract's list envelope.
type PageOf[T any] struct {
	Items []T   `json:"items"`
	Total int64 `json:"total"`
	Page  int   `json:"page"`
	Size  int   `json:"size"`
	Pages int64 `json:"pages"`
}

// NewPage wraps one page of items out of total; pages = ceil(total/size).
func NewPage[T any](items []T, total int64, p Page) PageOf[T] {
	if items == nil {
		items = []T{}
	}
	return PageOf[T]{Items: items, Total: total, Page: p.Number, Size: p.Size, Pages: (total + int64(p.Size) - 1) / int64(p.Size)}
}

// CursorPage is the contract's list envelope for a list that is read by
// cursor as well as by page number (tickets, logs). A page by number is
// counted: total is exact up to a bound, past it that bound with
// total_capped true (pages is then a lower bound too). A page reached by
// cursor is not counted: its total and pages are null. next_cursor, null
// on the last page, leads to the page after.
type CursorPage[T any] struct {
	Items       []T     `json:"items"`
	Total       *int64  `json:"total"`
	TotalCapped bool    `json:"total_capped"`
	Page        int     `json:"page"`
	Size        int     `json:"size"`
	Pages       *int64  `json:"pages"`
	NextCursor  *string `json:"next_cursor"`
}

// NewCursorPage wraps the items of page p, not counted; next is the cursor
// of the page after, "" on the last page.
func NewCursorPage[T any](items []T, p Page, next string) CursorPage[T] {
	if items == nil {
		items = []T{}
	}
	out := CursorPage[T]{Items: items, Page: p.Number, Size: p.Size}
	if next != "" {
		out.NextCursor = &next
	}
	return out
}

// Count sets the total of the list, a lower bound when capped, and the
// number of pages it makes.
func (l *CursorPage[T]) Count(total int64, capped bool) {
	pages := (total + int64(l.Size) - 1) / int64(l.Size)
	l.Total, l.Pages, l.TotalCapped = &total, &pages, capped
}
