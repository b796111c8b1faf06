// N goroutines parked on one channel: spawn+park time per goroutine and RSS
// per goroutine, then wake+join — the Go side of `examples/million`.
//
//	GOMAXPROCS=2 go run benches/go/park_million.go N
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// cpuMicros is the CPU time (user + system) of the whole process so far:
// on a shared machine it varies far less than wall time.
func cpuMicros() float64 {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		panic(err)
	}
	return float64(u.Utime.Nano()+u.Stime.Nano()) / 1000
}

// rssBytes reads the resident set size from /proc/self/statm.
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		panic(err)
	}
	fields := strings.Fields(string(data))
	pages, _ := strconv.ParseInt(fields[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: park_million N   (N: 1 to 10 000 000 goroutines)")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 || n > 10000000 {
		fmt.Fprintf(os.Stderr, "park_million: N must be a whole number from 1 to 10 000 000, got %q\n", os.Args[1])
		os.Exit(2)
	}
	before := rssBytes()
	wake := make(chan struct{})
	var parked int64
	var wg sync.WaitGroup
	wg.Add(n)
	cpuBefore := cpuMicros()
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&parked, 1)
			<-wake
			wg.Done()
		}()
	}
	for atomic.LoadInt64(&parked) < int64(n) {
		runtime.Gosched()
	}
	took := time.Since(start)
	cpu := cpuMicros() - cpuBefore
	perG := float64(rssBytes()-before) / float64(n) / 1024
	fmt.Printf("%d goroutines spawned+parked in %v (%.2f us each, %.2f us CPU each), RSS %.2f KiB per goroutine\n",
		n, took, float64(took.Nanoseconds())/float64(n)/1000, cpu/float64(n), perG)
	start = time.Now()
	close(wake)
	wg.Wait()
	fmt.Printf("woke+joined in %v\n", time.Since(start))
}
