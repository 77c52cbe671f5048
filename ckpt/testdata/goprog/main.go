// Command goprog is a Go program for checkpoint tests: its runtime has
// many threads, an epoll instance and an eventfd; goroutines meet on a
// WaitGroup and a mutex every round.
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
	fmt.Fprintf(f, "done %d\n", total)
	f.Close()
}
