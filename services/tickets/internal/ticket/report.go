package ticket

import (
	"context"
	"strings"
	"time"

	"github.com/supportdesk/supportdesk/pkg/access"
)

// Counts are tickets counted by status.
type Counts struct {
	Total      int64
	New        int64
	InProgress int64
	Completed  int64
	Closed     int64
}

// Statistics summarises every ticket and the directory for the admins.
type Statistics struct {
	Requests Counts
	// ByPriority holds the four priorities, zero counts included.
	ByPriority map[Priority]int64
	// Users and Staff count the active directory entries of each role.
	Users int64
	Staff int64
	// MedianFirstResponse is the median time from creation to the first
	// response over the tickets that had one; nil when none had.
	MedianFirstResponse *time.Duration
	// MedianResolution is the median time from creation to resolution
	// over the resolved tickets; nil when none was resolved.
	MedianResolution *time.Duration
	// SLA holds the SLA breaches of each of the four priorities.
	SLA map[Priority]Breaches
}

// Breaches counts the tickets with SLA clocks and how many of them missed
// each target (a due time passed unmet counts at once, as Ticket.SLA shows
// it).
type Breaches struct {
	Tickets               int64
	FirstResponseBreached int64
	ResolutionBreached    int64
}

// Workload is what one active staff member holds: the tickets assigned to
// them, by status.
type Workload struct {
	Staff User
	Counts
}

// ExportRow is one ticket as the export lists it, with its owner's contact
// details and its staff member's email from the directory. A text that is
// unset, or that the directory does not know yet, is empty: the export does
// not tell the two apart.
type ExportRow struct {
	ID              int64
	Title           string
	Text            string
	Status          Status
	Priority        Priority
	Category        string
	StaffComment    string
	CreatedAt       time.Time
	UpdatedAt       time.Time
	OwnerEmail      string
	OwnerFirstName  string
	OwnerLastName   string
	OwnerFatherName string
	OwnerINN        string
	OwnerPhone      string
	StaffEmail      string
}

// OwnerName is the owner's first, last and father's names joined by single
// spaces, leaving out the empty ones.
func (r ExportRow) OwnerName() string {
	var b strings.Builder
	for _, part := range [...]string{r.OwnerFirstName, r.OwnerLastName, r.OwnerFatherName} {
		if part == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(part)
	}
	return b.String()
}

// ReportStore reads the aggregates and the export of the admin reports.
type ReportStore interface {
	// Statistics counts every ticket and the active directory.
	Statistics(ctx context.Context) (Statistics, error)
	// Workload returns every active staff member, by id, with the tickets
	// assigned to them; a member without tickets has zero counts.
	Workload(ctx context.Context) ([]Workload, error)
	// Export calls write once per ticket matching f, newest first, as the
	// rows arrive from the database, and stops at write's first error.
	Export(ctx context.Context, f Filter, write func(ExportRow) error) error
}

// Reports are the admins' views over all tickets: statistics, staff
// workload and the export.
type Reports struct {
	store ReportStore
}

// NewReports returns Reports over store.
func NewReports(store ReportStore) *Reports { return &Reports{store: store} }

// Statistics returns the ticket and directory counts and the response and
// resolution medians; it needs view-statistics.
func (r *Reports) Statistics(ctx context.Context, a Actor) (Statistics, error) {
	if err := require(a, access.ViewStatistics); err != nil {
		return Statistics{}, err
	}
	return r.store.Statistics(ctx)
}

// Workload returns each active staff member's tickets by status; it needs
// both view-staff and view-statistics.
func (r *Reports) Workload(ctx context.Context, a Actor) ([]Workload, error) {
	for _, p := range []access.Permission{access.ViewStaff, access.ViewStatistics} {
		if err := require(a, p); err != nil {
			return nil, err
		}
	}
	return r.store.Workload(ctx)
}

// Export streams the tickets matching f, newest first, to write, one call
// per ticket; it needs export-data. Nothing is held beyond the current row,
// so an export of any size runs in constant memory.
func (r *Reports) Export(ctx context.Context, a Actor, f Filter, write func(ExportRow) error) error {
	if err := require(a, access.ExportData); err != nil {
		return err
	}
	f.Internal = a.seesAll()
	return r.store.Export(ctx, f, write)
}
