package api_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
)

// exportRows fills a fresh database with n tickets in one statement: four
// owners from the directory, every other ticket assigned, and every third
// with cells that need neutralising, so each row takes the export's full
// path.
func exportRows(tb testing.TB, n int) reportEnv {
	tb.Helper()
	e := newReportEnv(tb, nil, nil)
	pgtest.Exec(tb, e.pool, `
INSERT INTO tickets.requests (owner_id, staff_id, title, text, status, priority, category, staff_comment, created_at, updated_at)
SELECT (ARRAY[3, 4, 7, 99])[1 + i % 4],
       CASE WHEN i % 2 = 0 THEN 2 END,
       CASE WHEN i % 3 = 0 THEN '=title ' || i ELSE 'Title ' || i END,
       'The printer on floor ' || i || ' says "PC LOAD LETTER", again',
       (ARRAY['new', 'in_progress', 'completed', 'closed'])[1 + i % 4],
       (ARRAY['low', 'normal', 'high', 'urgent'])[1 + i % 4],
       'hardware',
       CASE WHEN i % 3 = 0 THEN '+1 looking' END,
       timestamptz '2026-01-01 00:00:00Z' + i * interval '1 minute',
       timestamptz '2026-01-01 00:00:00Z' + i * interval '2 minutes'
FROM generate_series(1, $1::int) AS i`, n)
	return e
}

// discard is a response that throws the export away, as fast as a client
// could read it.
type discard struct {
	header  http.Header
	status  int
	bytes   int64
	onFlush func()
}

func (d *discard) Header() http.Header { return d.header }

func (d *discard) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	d.bytes += int64(len(p))
	return len(p), nil
}

func (d *discard) WriteHeader(status int) {
	if d.status == 0 {
		d.status = status
	}
}

func (d *discard) Flush() {
	if d.onFlush != nil {
		d.onFlush()
	}
}

// exporter returns a function that runs one export of everything through
// the real router, handler, CSV writer and store.
func exporter(tb testing.TB, e reportEnv, onFlush func()) func() {
	tb.Helper()
	bearer := e.bearer(tb, 1, access.RoleAdmin)
	w := &discard{header: http.Header{}, onFlush: onFlush}
	return func() {
		req := httptest.NewRequest(http.MethodGet, "/admin/requests/export", nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		clear(w.header)
		w.status, w.bytes = 0, 0
		e.engine.ServeHTTP(w, req)
		if w.status != http.StatusOK || w.bytes == 0 {
			tb.Fatalf("export = %d, %d bytes", w.status, w.bytes)
		}
	}
}

var exportSizes = []int{1_000, 10_000}

// BenchmarkExport exports N tickets to nowhere. allocs/row should not grow
// with N: the export holds one row at a time.
func BenchmarkExport(b *testing.B) {
	for _, n := range exportSizes {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			export := exporter(b, exportRows(b, n), nil)
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				export()
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N)/float64(n), "allocs/row")
		})
	}
}

// TestExportAllocsPerRow checks the memory property the benchmark shows:
// ten times the rows cost at most 1.5 times the allocations per row, so
// nothing accumulates per row beyond the row at hand.
func TestExportAllocsPerRow(t *testing.T) {
	perRow := make([]float64, len(exportSizes))
	for i, n := range exportSizes {
		export := exporter(t, exportRows(t, n), nil)
		perRow[i] = testing.AllocsPerRun(3, export) / float64(n)
		t.Logf("%d rows: %.2f allocs/row", n, perRow[i])
	}
	if small, large := perRow[0], perRow[len(perRow)-1]; large > 1.5*small {
		t.Errorf("allocs/row grow with the export: %.2f at %d rows, %.2f at %d", small, exportSizes[0], large, exportSizes[len(exportSizes)-1])
	}
}

// TestExportLiveHeap checks the export's memory directly: what the live
// heap (after a collection) gains between the start of the export and each
// flush is the same for ten times the rows, which it would not be if rows
// were gathered anywhere on the way.
func TestExportLiveHeap(t *testing.T) {
	growth := make([]int64, len(exportSizes))
	for i, n := range exportSizes {
		live := func() int64 {
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			return int64(ms.HeapAlloc)
		}
		var base int64
		export := exporter(t, exportRows(t, n), func() { growth[i] = max(growth[i], live()-base) })
		base = live()
		export()
		t.Logf("%d rows: live heap grew by at most %d B", n, growth[i])
	}
	// 9,000 more rows held anywhere would add megabytes.
	const slack = 256 << 10
	if small, large := growth[0], growth[len(growth)-1]; large > small+slack {
		t.Errorf("the live heap grows with the export: %d KiB at %d rows, %d KiB at %d", small/1024,
			exportSizes[0], large/1024, exportSizes[len(exportSizes)-1])
	}
}
