// Command goprog is a Go program for checkpoint tests: its runtime has
// many threads, an epoll instance, an eventfd and timers; goroutines meet
// on a WaitGroup and a mutex every round, and one waits on a channel.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

func main() {
	f, _ := os.Create(os.Args[1])
	var mu sync.Mutex
	total := 0
	// A goroutine blocked on a channel for the whole run.
	done := make(chan int)
	result := make(chan int)
	go func() { result <- <-done * 2 }()
	for r := 0; r < 40; r++ {
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				s := 0
				for i := 0; i < 200000; i++ {
					s += (i * (g + 1) * (r + 3)) % 7
				}
				mu.Lock()
				total += s
				mu.Unlock()
			}(g)
		}
		wg.Wait()
		fmt.Fprintf(f, "round %d total %d\n", r, total)
		time.Sleep(20 * time.Millisecond)
	}
	done <- 21
	fmt.Fprintf(f, "done %d, blocked goroutine says %d\n", total, <-result)
	f.Close()
}
