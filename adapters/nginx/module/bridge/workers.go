package bridge

import "sync"

// maxIdleWorkers bounds the goroutines kept waiting for jobs.
const maxIdleWorkers = 256

// workers run jobs on long-lived goroutines. A fresh goroutine per job
// starts on a small stack that every handler grows again: with it the
// module's /private row spent 4.6% of its CPU in morestack/copystack and
// 1.8% in newproc1 (perf, 2 workers, wrk -c32). An idle worker (the most
// recent first, whose stack and caches are warm) takes the next job.
type workers struct {
	mu   sync.Mutex
	idle []*worker
}

type worker struct{ jobs chan *reqState }

func (ws *workers) run(st *reqState) {
	ws.mu.Lock()
	if n := len(ws.idle); n > 0 {
		w := ws.idle[n-1]
		ws.idle = ws.idle[:n-1]
		ws.mu.Unlock()
		w.jobs <- st
		return
	}
	ws.mu.Unlock()
	w := &worker{jobs: make(chan *reqState, 1)}
	go w.loop(ws, st)
}

func (w *worker) loop(ws *workers, st *reqState) {
	for {
		st.run()
		ws.mu.Lock()
		if len(ws.idle) >= maxIdleWorkers {
			ws.mu.Unlock()
			return
		}
		ws.idle = append(ws.idle, w)
		ws.mu.Unlock()
		st = <-w.jobs
	}
}
