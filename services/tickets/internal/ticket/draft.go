package ticket

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Draft is what a caller submits to open a ticket.
type Draft struct {
	Text     *string
	Title    *string
	Priority *string
	Category *string
}

func (d Draft) validate() (Ticket, error) {
	t := Ticket{Status: StatusNew, Priority: PriorityNormal}
	if d.Text == nil {
		return Ticket{}, fault.Fields(fault.FieldError{Field: "text", Message: "is required"})
	}
	p := Patch{
		Text:     Field{Set: true, Value: d.Text},
		Title:    Field{Set: d.Title != nil, Value: d.Title},
		Priority: Field{Set: d.Priority != nil, Value: d.Priority},
		Category: Field{Set: d.Category != nil, Value: d.Category},
	}
	if err := p.apply(&t); err != nil {
		return Ticket{}, err
	}
	return t, nil
}

// Field is one field of a partial update: absent (Set false), cleared (Set
// and Value nil) or given a value.
type Field struct {
	Set   bool
	Value *string
}

// Patch is a partial update of a ticket by its owner.
type Patch struct {
	Text, Title, Priority, Category Field
}

func checkText(raw string) (string, *fault.FieldError) {
	text := strings.TrimSpace(raw)
	switch {
	case text == "":
		return "", &fault.FieldError{Field: "text", Message: "must not be empty"}
	case utf8.RuneCountInString(text) > MaxTextLen:
		return "", &fault.FieldError{Field: "text", Message: fmt.Sprintf("must be at most %d characters", MaxTextLen)}
	}
	return text, nil
}

func checkOptional(field, raw string, maxLen int) (*string, *fault.FieldError) {
	v := strings.TrimSpace(raw)
	if utf8.RuneCountInString(v) > maxLen {
		return nil, &fault.FieldError{Field: field, Message: fmt.Sprintf("must be at most %d characters", maxLen)}
	}
	if v == "" {
		return nil, nil
	}
	return &v, nil
}

func checkPriority(raw string) (Priority, *fault.FieldError) {
	switch p := Priority(raw); p {
	case PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent:
		return p, nil
	}
	return "", &fault.FieldError{Field: "priority", Message: "must be one of low, normal, high, urgent"}
}

// apply validates p and writes it into t; nothing is written on error.
func (p Patch) apply(t *Ticket) error {
	next := *t
	var fields []fault.FieldError
	add := func(fe *fault.FieldError) {
		if fe != nil {
			fields = append(fields, *fe)
		}
	}
	if p.Text.Set {
		if p.Text.Value == nil {
			add(&fault.FieldError{Field: "text", Message: "must not be null"})
		} else {
			text, fe := checkText(*p.Text.Value)
			add(fe)
			next.Text = text
		}
	}
	// An optional text set to null or blank is cleared.
	optional := func(field string, set Field, maxLen int, dst **string) {
		if !set.Set {
			return
		}
		*dst = nil
		if set.Value != nil {
			v, fe := checkOptional(field, *set.Value, maxLen)
			add(fe)
			*dst = v
		}
	}
	optional("title", p.Title, MaxTitleLen, &next.Title)
	optional("category", p.Category, MaxCategoryLen, &next.Category)
	if p.Priority.Set {
		if p.Priority.Value == nil {
			next.Priority = PriorityNormal
		} else {
			pr, fe := checkPriority(*p.Priority.Value)
			add(fe)
			next.Priority = pr
		}
	}
	if len(fields) > 0 {
		return fault.Fields(fields...)
	}
	*t = next
	return nil
}
