package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// client is the load's HTTP client: connections kept alive, as a real
// client pool would.
var client = &http.Client{
	Timeout:   30 * time.Second,
	Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute},
}

// call sends a JSON request and decodes a JSON answer into out (when not
// nil), failing unless the status is want.
func call(method, url, token string, body, out any, want int, headers ...string) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s = %d, want %d: %.300s", method, url, resp.StatusCode, want, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// login returns an access token and the user's id.
func login(base, email, password string) (string, int64, error) {
	var out struct {
		AccessToken string `json:"access_token"`
		UserID      int64  `json:"user_id"`
	}
	err := call("POST", base+"/auth/login", "", map[string]string{"email": email, "password": password}, &out, 200)
	return out.AccessToken, out.UserID, err
}

// closedLoop runs do from workers goroutines, each calling again as soon as
// the last call returned, for d: the most the system sustains. It returns
// the calls that succeeded and those that failed.
func closedLoop(workers int, d time.Duration, do func(worker, i int) error) (ok, failed int64) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var okN, failedN atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				if err := do(w, i); err != nil {
					failedN.Add(1)
					continue
				}
				okN.Add(1)
			}
		})
	}
	wg.Wait()
	return okN.Load(), failedN.Load()
}

// openLoop sends the requests of next at a fixed rate per second for d,
// whatever the answers' pace (slow answers are not hidden by waiting for
// them), and returns every result. The answers' bodies are read and
// dropped: keeping them (vegeta's default) made the load generator's
// collector work on every list page of the read mix.
func openLoop(rate int, d time.Duration, next vegeta.Targeter) []*vegeta.Result {
	attacker := vegeta.NewAttacker(vegeta.Timeout(30*time.Second), vegeta.KeepAlive(true), vegeta.Workers(8), vegeta.MaxWorkers(1024),
		vegeta.MaxBody(0))
	var out []*vegeta.Result
	for res := range attacker.Attack(next, vegeta.Rate{Freq: rate, Per: time.Second}, d, "bench") {
		out = append(out, res)
	}
	return out
}

// latencies summarises results: their latencies and how many did not get
// the status want (any 2xx for 0).
func latencies(results []*vegeta.Result, want uint16) ([]time.Duration, int) {
	var ls []time.Duration
	bad := 0
	for _, r := range results {
		if failed(r, want) {
			bad++
			continue
		}
		ls = append(ls, r.Latency)
	}
	return ls, bad
}

// failed reports whether r is not the answer wanted: status want, or any
// 2xx when want is 0.
func failed(r *vegeta.Result, want uint16) bool {
	return r.Code != want && (want != 0 || r.Code < 200 || r.Code > 299)
}

// failures describes the answers latencies counted as bad: how many of
// each status (0: no answer) and the first error.
func failures(results []*vegeta.Result, want uint16) string {
	codes := map[uint16]int{}
	first := ""
	for _, r := range results {
		if failed(r, want) {
			codes[r.Code]++
			if first == "" {
				first = r.Error
			}
		}
	}
	return fmt.Sprintf("statuses %v, first error %q", codes, first)
}

// percentile returns the p-th percentile (0 < p <= 100) of ds by the
// nearest-rank method; 0 when ds is empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(p/100*float64(len(s)) + 0.999999)
	return s[max(1, min(rank, len(s)))-1]
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// sustainedRate finds the highest rate per second, of a rising series,
// at which next's requests are answered with want at p99 ≤ bound and
// fewer than 0.1 % errors, each rate held for step: what the system
// sustains without a queue building (a closed loop's maximum is higher,
// and its latency unbounded). between runs after each step that held,
// before the next (the pipeline catching up). It returns 0 when even the
// lowest fails.
func sustainedRate(rates []int, step, bound time.Duration, want uint16, next func() vegeta.Targeter, between func()) (int, []string) {
	best := 0
	var log []string
	for _, rate := range rates {
		results := openLoop(rate, step, next())
		ls, bad := latencies(results, want)
		p99 := percentile(ls, 99)
		ok := p99 <= bound && float64(bad) < 0.001*float64(len(ls)+bad)
		log = append(log, fmt.Sprintf("%d/s: p99 %.1f ms%s, %d failed", rate, ms(p99), byKind(results, want), bad))
		if !ok {
			break
		}
		best = rate
		between()
	}
	return best, log
}

// byKind is the p99 of each kind of request (method and path, ids left
// out) among results, as " (GET /x/:id 3.1 ms, ...)", when there are
// several kinds: which of a mix's requests make its tail.
func byKind(results []*vegeta.Result, want uint16) string {
	kinds := map[string][]time.Duration{}
	for _, r := range results {
		if failed(r, want) {
			continue
		}
		k := r.Method + " " + routeOf(r.URL)
		kinds[k] = append(kinds[k], r.Latency)
	}
	if len(kinds) < 2 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		parts = append(parts, fmt.Sprintf("%s %.1f ms", k, ms(percentile(kinds[k], 99))))
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// routeOf is the path of url without its host and query, numeric segments
// as :id.
func routeOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	segs := strings.Split(u.Path, "/")
	for i, s := range segs {
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			segs[i] = ":id"
		}
	}
	return strings.Join(segs, "/")
}

// every calls f every period until ctx ends.
func every(ctx context.Context, period time.Duration, f func()) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f()
		}
	}
}
