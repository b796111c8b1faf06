// The three measurements of benches/peers.rs on Go's runtime, printed as
// "<criterion group> <median ns per operation>" lines that the Rust bench
// reads (GREENRT_PEERS_GO) to put Go in the same table.
//
// Run by scripts/peers.sh with GOMAXPROCS=1: one worker, like the other
// systems in the table. Each measurement is repeated `samples` times and the
// median is printed.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"
)

const samples = 21

// yieldPingPong: two goroutines taking turns with runtime.Gosched; one
// operation is one yield.
func yieldPingPong(iters int) time.Duration {
	half := (iters + 1) / 2
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < half; i++ {
				runtime.Gosched()
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// hop: ping-pong over two unbuffered channels; one operation is one way.
func hop(iters int) time.Duration {
	ping := make(chan int)
	pong := make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	start := time.Now()
	for i := 0; i < iters; i++ {
		ping <- i
		<-pong
	}
	elapsed := time.Since(start)
	close(ping)
	return elapsed / 2
}

// spawnJoin: 100 000 no-op goroutines, each joined in order through its own
// result channel (the shape of a join handle); one operation is one task.
func spawnJoin(iters int) time.Duration {
	const batch = 100000
	start := time.Now()
	for n := 0; n < iters; n++ {
		results := make([]chan int, batch)
		for i := range results {
			results[i] = make(chan int, 1)
			go func(i int, out chan<- int) { out <- i }(i, results[i])
		}
		for _, r := range results {
			<-r
		}
	}
	return time.Since(start) / batch
}

func median(f func(int) time.Duration, iters int) float64 {
	f(iters) // warm up
	per := make([]float64, samples)
	for i := range per {
		per[i] = float64(f(iters).Nanoseconds()) / float64(iters)
	}
	sort.Float64s(per)
	return per[samples/2]
}

func main() {
	if runtime.GOMAXPROCS(0) != 1 {
		fmt.Fprintln(os.Stderr, "peers.go: run with GOMAXPROCS=1 (one worker, like the Rust systems)")
		os.Exit(2)
	}
	fmt.Printf("peers_yield %.1f\n", median(yieldPingPong, 1000000))
	fmt.Printf("peers_hop %.1f\n", median(hop, 500000))
	fmt.Printf("peers_spawn_join %.1f\n", median(spawnJoin, 1))
}
