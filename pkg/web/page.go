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
