// Package batcher groups values sent from many goroutines into batches that a
// single commit function processes, and lets each sender wait for its own
// result.
//
// It implements the API that Formance Ledger's replication drivers import as
// go.vallahaye.net/batcher v0.6.0, a path the module proxy available here does
// not serve. Only the surface the ledger uses is provided: New with
// WithTimeout and WithMaxSize, Send, Batch, Operations and Operation.
//
// A batch is committed when it reaches the maximum size, when the timeout
// started by its first value fires, or when the context given to Batch is
// cancelled (a final flush, so no accepted value is dropped).
package batcher

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrStopped is returned by Send once Batch has returned.
var ErrStopped = errors.New("batcher: stopped")

// Operation is one value sent to the batcher and, once committed, its result.
type Operation[T, R any] struct {
	Value T

	once   sync.Once
	done   chan struct{}
	result R
	err    error
}

func newOperation[T, R any](v T) *Operation[T, R] {
	return &Operation[T, R]{Value: v, done: make(chan struct{})}
}

func (o *Operation[T, R]) finish(r R, err error) {
	o.once.Do(func() {
		o.result, o.err = r, err
		close(o.done)
	})
}

// SetResult completes the operation successfully. Only the first completion counts.
func (o *Operation[T, R]) SetResult(r R) {
	o.finish(r, nil)
}

// SetError completes the operation with an error. Only the first completion counts.
func (o *Operation[T, R]) SetError(err error) {
	var zero R
	o.finish(zero, err)
}

// Wait blocks until the operation is completed or ctx is done.
func (o *Operation[T, R]) Wait(ctx context.Context) (R, error) {
	select {
	case <-o.done:
		return o.result, o.err
	case <-ctx.Done():
		var zero R
		return zero, ctx.Err()
	}
}

// Operations is one batch handed to the commit function.
type Operations[T, R any] []*Operation[T, R]

// CommitFunc processes a batch; it must complete every operation in it.
type CommitFunc[T, R any] func(ctx context.Context, ops Operations[T, R])

// Option configures a Batcher.
type Option[T, R any] func(*Batcher[T, R])

// WithTimeout bounds how long the first value of a batch waits for others.
// Zero means no time limit (the batch waits for the maximum size).
func WithTimeout[T, R any](d time.Duration) Option[T, R] {
	return func(b *Batcher[T, R]) { b.timeout = d }
}

// WithMaxSize commits a batch as soon as it holds n values. Zero means no limit.
func WithMaxSize[T, R any](n int) Option[T, R] {
	return func(b *Batcher[T, R]) { b.maxSize = n }
}

// Batcher collects operations and commits them in batches.
type Batcher[T, R any] struct {
	commit  CommitFunc[T, R]
	timeout time.Duration
	maxSize int

	in      chan *Operation[T, R]
	stopped chan struct{}
	stop    sync.Once
}

// New returns a batcher that hands its batches to commit.
func New[T, R any](commit CommitFunc[T, R], opts ...Option[T, R]) *Batcher[T, R] {
	b := &Batcher[T, R]{
		commit:  commit,
		in:      make(chan *Operation[T, R]),
		stopped: make(chan struct{}),
	}
	for _, opt := range opts {
		opt(b)
	}
	return b
}

// Send queues v for the next batch and returns its operation to wait on.
func (b *Batcher[T, R]) Send(ctx context.Context, v T) (*Operation[T, R], error) {
	op := newOperation[T, R](v)
	select {
	case b.in <- op:
		return op, nil
	case <-b.stopped:
		return nil, ErrStopped
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Batch runs the batching loop until ctx is cancelled, then commits what is
// pending and returns.
func (b *Batcher[T, R]) Batch(ctx context.Context) {
	defer b.stop.Do(func() { close(b.stopped) })

	var (
		pending Operations[T, R]
		timer   *time.Timer
		expired <-chan time.Time
	)
	flush := func(ctx context.Context) {
		if timer != nil {
			timer.Stop()
			timer, expired = nil, nil
		}
		if len(pending) == 0 {
			return
		}
		batch := pending
		pending = nil
		b.commit(ctx, batch)
	}

	for {
		select {
		case op := <-b.in:
			pending = append(pending, op)
			if len(pending) == 1 && b.timeout > 0 {
				timer = time.NewTimer(b.timeout)
				expired = timer.C
			}
			if b.maxSize > 0 && len(pending) >= b.maxSize {
				flush(ctx)
			}
		case <-expired:
			timer, expired = nil, nil
			flush(ctx)
		case <-ctx.Done():
			flush(context.WithoutCancel(ctx))
			return
		}
	}
}
