package mongotest_test

import (
	"net"
	"strings"
	"testing"

	"github.com/supportdesk/supportdesk/pkg/mongotest"
)

func TestStartServesTheWireProtocolPort(t *testing.T) {
	uri := mongotest.Start(t)
	if !strings.HasPrefix(uri, "mongodb://") {
		t.Fatalf("URI = %q", uri)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(uri, "mongodb://"), "/")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatalf("dial %s: %v", host, err)
	}
	c.Close()
}
