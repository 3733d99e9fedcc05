package postgres

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// Statistics implements ticket.ReportStore. One pass over the tickets gives
// every count and both medians; percentile_cont skips the NULL intervals of
// tickets without a response or resolution and is NULL when all are.
func (s *Store) Statistics(ctx context.Context) (ticket.Statistics, error) {
	q := `
SELECT count(*),
       count(*) FILTER (WHERE r.status = 'new'),
       count(*) FILTER (WHERE r.status = 'in_progress'),
       count(*) FILTER (WHERE r.status = 'completed'),
       count(*) FILTER (WHERE r.status = 'closed'),
       count(*) FILTER (WHERE r.priority = 'low'),
       count(*) FILTER (WHERE r.priority = 'normal'),
       count(*) FILTER (WHERE r.priority = 'high'),
       count(*) FILTER (WHERE r.priority = 'urgent'),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.first_response_at - r.created_at)::float8),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.resolved_at - r.created_at)::float8),
       (SELECT count(*) FROM tickets.users u WHERE u.active AND u.role = 'user'),
       (SELECT count(*) FROM tickets.users u WHERE u.active AND u.role = 'staff'),
       ` + slaCounts + `
FROM tickets.requests r`

	var st ticket.Statistics
	var low, normal, high, urgent int64
	var firstResponse, resolution *float64
	dest := []any{
		&st.Requests.Total, &st.Requests.New, &st.Requests.InProgress, &st.Requests.Completed, &st.Requests.Closed,
		&low, &normal, &high, &urgent, &firstResponse, &resolution, &st.Users, &st.Staff,
	}
	st.SLA = map[ticket.Priority]ticket.Breaches{}
	breaches := make([]ticket.Breaches, len(priorities))
	for i := range priorities {
		dest = append(dest, &breaches[i].Tickets, &breaches[i].FirstResponseBreached, &breaches[i].ResolutionBreached)
	}
	err := s.pool.QueryRow(ctx, q).Scan(dest...)
	for i, p := range priorities {
		st.SLA[p] = breaches[i]
	}
	if err != nil {
		return ticket.Statistics{}, fmt.Errorf("ticket statistics: %w", err)
	}
	st.ByPriority = map[ticket.Priority]int64{
		ticket.PriorityLow: low, ticket.PriorityNormal: normal, ticket.PriorityHigh: high, ticket.PriorityUrgent: urgent,
	}
	st.MedianFirstResponse = seconds(firstResponse)
	st.MedianResolution = seconds(resolution)
	return st, nil
}

// priorities are the priorities the statistics count SLA breaches of, in
// the order of slaCounts.
var priorities = []ticket.Priority{ticket.PriorityLow, ticket.PriorityNormal, ticket.PriorityHigh, ticket.PriorityUrgent}

// slaCounts are the statistics' columns of SLA breaches: for each priority,
// the tickets with clocks, then those past each target (list.go's
// breachedSQL, one clock at a time).
var slaCounts = func() string {
	var cols []string
	for _, p := range priorities {
		cols = append(cols, fmt.Sprintf(`count(*) FILTER (WHERE r.priority = '%[1]s' AND (r.first_response_sla <> 'none' OR r.resolution_sla <> 'none')),
       count(*) FILTER (WHERE r.priority = '%[1]s' AND (r.first_response_sla = 'breached' OR (r.first_response_sla = 'pending' AND r.first_response_due_at <= now()))),
       count(*) FILTER (WHERE r.priority = '%[1]s' AND (r.resolution_sla = 'breached' OR (r.resolution_sla = 'pending' AND r.resolution_due_at <= now())))`, p))
	}
	return strings.Join(cols, ",\n       ")
}()

// seconds converts a number of seconds to a duration, to the microsecond
// that timestamptz keeps.
func seconds(s *float64) *time.Duration {
	if s == nil {
		return nil
	}
	d := time.Duration(math.Round(*s*1e6)) * time.Microsecond
	return &d
}

// workloadRow is a staff member and the counts of the tickets assigned to
// them, as the workload query selects them.
type workloadRow struct {
	ticket.User
	ticket.Counts
}

// Workload implements ticket.ReportStore.
func (s *Store) Workload(ctx context.Context) ([]ticket.Workload, error) {
	const q = `
SELECT u.id, u.email, u.role, u.first_name, u.last_name, u.father_name, u.inn, u.phone, u.active,
       count(r.id) AS total,
       count(r.id) FILTER (WHERE r.status = 'new') AS new,
       count(r.id) FILTER (WHERE r.status = 'in_progress') AS in_progress,
       count(r.id) FILTER (WHERE r.status = 'completed') AS completed,
       count(r.id) FILTER (WHERE r.status = 'closed') AS closed
FROM tickets.users u
LEFT JOIN tickets.requests r ON r.staff_id = u.id
WHERE u.role = 'staff' AND u.active
GROUP BY u.id
ORDER BY u.id`

	rows, err := s.pool.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("staff workload: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[workloadRow])
	if err != nil {
		return nil, fmt.Errorf("staff workload: %w", err)
	}
	out := make([]ticket.Workload, len(list))
	for i, r := range list {
		out[i] = ticket.Workload{Staff: r.User, Counts: r.Counts}
	}
	return out, nil
}

// Export implements ticket.ReportStore. The rows are scanned one at a time
// into the same ExportRow as pgx reads them off the connection, so memory
// stays flat however many tickets match; the connection is held until the
// last row is written. NULL texts arrive as empty strings.
func (s *Store) Export(ctx context.Context, f ticket.Filter, write func(ticket.ExportRow) error) error {
	const q = `
SELECT r.id, coalesce(r.title, ''), r.text, r.status, r.priority, coalesce(r.category, ''),
       coalesce(r.staff_comment, ''), r.created_at, r.updated_at,
       coalesce(o.email, ''), coalesce(o.first_name, ''), coalesce(o.last_name, ''),
       coalesce(o.father_name, ''), coalesce(o.inn, ''), coalesce(o.phone, ''),
       coalesce(s.email, '')
FROM tickets.requests r
LEFT JOIN tickets.users o ON o.id = r.owner_id
LEFT JOIN tickets.users s ON s.id = r.staff_id`

	cond, args := where(f)
	rows, err := s.pool.Query(ctx, q+cond+` ORDER BY r.created_at DESC, r.id DESC`, args...)
	if err != nil {
		return fmt.Errorf("export tickets: %w", err)
	}
	var row ticket.ExportRow
	var status, priority string
	_, err = pgx.ForEachRow(rows, []any{
		&row.ID, &row.Title, &row.Text, &status, &priority, &row.Category, &row.StaffComment, &row.CreatedAt,
		&row.UpdatedAt, &row.OwnerEmail, &row.OwnerFirstName, &row.OwnerLastName, &row.OwnerFatherName,
		&row.OwnerINN, &row.OwnerPhone, &row.StaffEmail,
	}, func() error {
		row.Status, row.Priority = ticket.Status(status), ticket.Priority(priority)
		row.CreatedAt, row.UpdatedAt = row.CreatedAt.UTC(), row.UpdatedAt.UTC()
		return write(row)
	})
	return fault.Wrap(err, "export tickets")
}
