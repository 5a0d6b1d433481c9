package batcher

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type recorder struct {
	mu      sync.Mutex
	batches [][]int
}

func (r *recorder) commit(_ context.Context, ops Operations[int, error]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	batch := make([]int, len(ops))
	for i, op := range ops {
		batch[i] = op.Value
		if op.Value < 0 {
			op.SetError(errors.New("negative"))
		} else {
			op.SetResult(nil)
		}
	}
	r.batches = append(r.batches, batch)
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int, len(r.batches))
	for i, b := range r.batches {
		out[i] = len(b)
	}
	return out
}

func TestCommitsWhenMaxSizeReached(t *testing.T) {
	rec := &recorder{}
	b := New(rec.commit, WithMaxSize[int, error](3))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Batch(ctx); close(done) }()

	var ops []*Operation[int, error]
	for i := 0; i < 6; i++ {
		op, err := b.Send(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op)
	}
	for _, op := range ops {
		if _, err := op.Wait(ctx); err != nil {
			t.Fatalf("wait: %v", err)
		}
	}
	cancel()
	<-done
	if got := rec.sizes(); len(got) != 2 || got[0] != 3 || got[1] != 3 {
		t.Fatalf("batch sizes = %v, want [3 3]", got)
	}
}

func TestCommitsOnTimeout(t *testing.T) {
	rec := &recorder{}
	b := New(rec.commit, WithTimeout[int, error](20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Batch(ctx)

	op, err := b.Send(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
	defer wcancel()
	if _, err := op.Wait(wctx); err != nil {
		t.Fatalf("timeout did not flush: %v", err)
	}
	if got := rec.sizes(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("batch sizes = %v, want [1]", got)
	}
}

func TestErrorsReachTheirSender(t *testing.T) {
	rec := &recorder{}
	b := New(rec.commit, WithMaxSize[int, error](2))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.Batch(ctx)

	ok, _ := b.Send(ctx, 1)
	bad, _ := b.Send(ctx, -1)
	if _, err := ok.Wait(ctx); err != nil {
		t.Fatalf("ok op failed: %v", err)
	}
	if _, err := bad.Wait(ctx); err == nil {
		t.Fatal("negative value should fail")
	}
}

func TestCancelFlushesPendingAndStops(t *testing.T) {
	rec := &recorder{}
	b := New(rec.commit, WithMaxSize[int, error](100))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Batch(ctx); close(done) }()

	op, err := b.Send(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if _, err := op.Wait(context.Background()); err != nil {
		t.Fatalf("pending op lost on cancel: %v", err)
	}
	if _, err := b.Send(context.Background(), 2); !errors.Is(err, ErrStopped) {
		t.Fatalf("send after stop = %v, want ErrStopped", err)
	}
}
