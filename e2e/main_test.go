package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"go.uber.org/goleak"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// gatewayBin is the gateway binary TestMain builds once for every test.
var gatewayBin string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if _, err := exec.LookPath("redis-server"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: redis-server is not in PATH; install it (apt-get install redis-server) to run the end-to-end tests")
		return 1
	}
	dir, err := os.MkdirTemp("", "alarmgate-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Built without -race on purpose: the nodes must be fast; the race
	// detector still covers the test process and the client package.
	if gatewayBin, err = testproc.BuildGateway(context.Background(), "..", dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build gateway:", err)
		return 1
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: goleak:", err)
			return 1
		}
	}
	return code
}
