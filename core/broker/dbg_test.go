package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
	
)

func TestDbgLast(t *testing.T) {
	files, _ := filepath.Glob("/tmp/fuzzlast.*")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		req := fuzzRequest(data)
		fmt.Printf("%s: %#v\n", f, req)
		if req == nil { continue }
		done := make(chan bool)
		go func() {
			start := time.Now()
			h := fuzzHarness(t)
			checkStep(t, h, req)
			fmt.Println("step", time.Since(start))
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			fmt.Println("HANG")
		}
	}
}


