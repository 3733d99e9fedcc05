package web_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"

	"github.com/supportdesk/supportdesk/pkg/web"
)

func TestParsePage(t *testing.T) {
	tests := []struct {
		query  string
		want   web.Page
		fields []string
	}{
		{"", web.Page{Number: 1, Size: 50}, nil},
		{"page=3&size=100", web.Page{Number: 3, Size: 100}, nil},
		{"size=0", web.Page{Number: 1, Size: 50}, []string{"size"}},
		{"size=101&page=0", web.Page{Number: 1, Size: 50}, []string{"page", "size"}},
		{"page=x", web.Page{Number: 1, Size: 50}, []string{"page"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			c, _ := gin.CreateTestContext(httptest.NewRecorder())
			c.Request = httptest.NewRequest("GET", "/?"+tt.query, nil)
			got, fields := web.ParsePage(c, 50, 100)
			var names []string
			for _, f := range fields {
				names = append(names, f.Field)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("page (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.fields, names); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewPage(t *testing.T) {
	for _, tt := range []struct {
		total int64
		size  int
		pages int64
	}{{0, 10, 0}, {1, 10, 1}, {10, 10, 1}, {11, 10, 2}} {
		p := web.NewPage([]int(nil), tt.total, web.Page{Number: 1, Size: tt.size})
		if p.Pages != tt.pages || p.Items == nil {
			t.Errorf("total %d size %d: pages %d items %v, want pages %d and an empty list", tt.total, tt.size, p.Pages, p.Items, tt.pages)
		}
	}
}

func TestCursorPage(t *testing.T) {
	byCursor := web.NewCursorPage([]int(nil), web.Page{Number: 1, Size: 10}, "")
	body, _ := json.Marshal(byCursor)
	if want := `{"items":[],"total":null,"total_capped":false,"page":1,"size":10,"pages":null,"next_cursor":null}`; string(body) != want {
		t.Errorf("uncounted last page = %s, want %s", body, want)
	}
	counted := web.NewCursorPage([]int{1, 2}, web.Page{Number: 1, Size: 2}, "abc")
	counted.Count(10_000, true)
	body, _ = json.Marshal(counted)
	if want := `{"items":[1,2],"total":10000,"total_capped":true,"page":1,"size":2,"pages":5000,"next_cursor":"abc"}`; string(body) != want {
		t.Errorf("counted page = %s, want %s", body, want)
	}
}
