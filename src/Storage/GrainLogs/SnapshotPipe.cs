using System.Buffers;
using System.Threading.Channels;

namespace RagCluster.Storage.GrainLogs;

/// <summary>
/// Carries a snapshot from the thread that writes it (a stream) to the storage that stores it (pages), so a snapshot
/// is never whole in memory (a large shard's snapshot is hundreds of MB): at most <see cref="Buffers"/> pages exist, and
/// the writer waits while storage catches up.
/// </summary>
public sealed class SnapshotPipe : IDisposable
{
    /// <summary>One page being filled, one waiting, one being stored.</summary>
    public const int Buffers = 3;

    /// <summary>A page is a database value of its own: a snapshot is never one array or one value (both stop near 2 GB).</summary>
    public const int DefaultPageBytes = 4 << 20;

    /// <summary>
    /// One snapshot's pages, kept for the next: <see cref="ArrayPool{T}.Shared"/> kept fourteen 4 MiB pages alive after
    /// four shards snapshotted at once (a heap dump), more than the gaps it was meant to save. Snapshots beside the
    /// first allocate theirs.
    /// </summary>
    public static ArrayPool<byte> SharedPages { get; } = ArrayPool<byte>.Create(DefaultPageBytes, Buffers);

    private readonly Channel<byte[]> _full = Channel.CreateBounded<byte[]>(1);
    private readonly Channel<byte[]> _free = Channel.CreateBounded<byte[]>(Buffers);
    private readonly CancellationTokenSource _aborted = new();
    private readonly ArrayPool<byte>? _pool;
    private readonly List<byte[]> _rented = new(Buffers);
    private int _made;

    /// <param name="pageBytes">A page's size.</param>
    /// <param name="pool">
    /// Where pages come from, and go back to once both sides are done (<see cref="ReturnPages"/>); a page the pool gives
    /// of another size goes back at once and one is allocated instead; none: each page is allocated.
    /// </param>
    public SnapshotPipe(int pageBytes = DefaultPageBytes, ArrayPool<byte>? pool = null)
    {
        PageBytes = pageBytes > 0 ? pageBytes : throw new ArgumentOutOfRangeException(nameof(pageBytes));
        _pool = pool;
        Input = new PipeStream(this);
    }

    public int PageBytes { get; }

    /// <summary>The writer's side. Writes block while every buffer is full or being stored; they throw once the pipe is aborted.</summary>
    public Stream Input { get; }

    /// <summary>Bytes written so far.</summary>
    public long Length { get; private set; }

    /// <summary>
    /// Storage's side: the pages in order, the last one cut to its length. A page's buffer is reused once the next
    /// page is asked for, so a consumer must be done with (or have copied) a page before it moves on.
    /// </summary>
    public async IAsyncEnumerable<byte[]> Pages([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct = default)
    {
        byte[]? previous = null;
        await foreach (var page in _full.Reader.ReadAllAsync(ct))
        {
            if (previous is not null && previous.Length == PageBytes) _free.Writer.TryWrite(previous);
            yield return previous = page;
        }
    }

    /// <summary>The writer is done: the last page goes out and <see cref="Pages"/> ends.</summary>
    public void Complete()
    {
        ((PipeStream)Input).FlushLast();
        _full.Writer.TryComplete();
    }

    /// <summary>Either side failed: the writer's next write throws, and <see cref="Pages"/> throws <paramref name="error"/>.</summary>
    public void Abort(Exception error)
    {
        _full.Writer.TryComplete(error);
        _aborted.Cancel();
    }

    /// <summary>
    /// Runs <paramref name="write"/> (on the thread <paramref name="runWriter"/> gives it) into the pipe while
    /// <paramref name="store"/> takes the pages; fails if either fails, and never leaves the writer blocked.
    /// </summary>
    /// <remarks>
    /// Pages come from <paramref name="pool"/>, <see cref="SharedPages"/> unless given: a silo's shards snapshot again
    /// and again, and pages allocated afresh each time were 4 MiB arrays the large-object heap kept as gaps (fifteen
    /// dead ones in a heap dump after a 100,000-vector load; bench/results, issue 59).
    /// </remarks>
    /// <returns>The snapshot's bytes.</returns>
    public static async Task<long> RunAsync(Func<Action, Task> runWriter, Action<Stream> write, Func<IAsyncEnumerable<byte[]>, Task> store,
        int pageBytes = DefaultPageBytes, ArrayPool<byte>? pool = null)
    {
        using var pipe = new SnapshotPipe(pageBytes, pool ?? SharedPages);
        var writer = runWriter(() =>
        {
            try
            {
                write(pipe.Input);
                pipe.Complete();
            }
            catch (Exception e)
            {
                pipe.Abort(e);
                throw;
            }
        });
        try
        {
            await store(pipe.Pages());
        }
        catch (Exception e)
        {
            pipe.Abort(e);
            try { await writer; } catch { /* the store's failure is the one to report */ }
            pipe.ReturnPages();
            throw;
        }
        // Storage read to the end, so the writer is past its last write; if it was not, this frees it (and it fails).
        pipe.Abort(new InvalidOperationException("storage stopped before the snapshot's last page"));
        try { await writer; }
        finally { pipe.ReturnPages(); }
        return pipe.Length;
    }

    /// <summary>Gives the pages back to the pool. Only once neither side can touch them: the writer returned and storage stopped.</summary>
    public void ReturnPages()
    {
        foreach (var page in _rented) _pool!.Return(page); // _rented holds pages only when there is a pool
        _rented.Clear();
    }

    public void Dispose() => _aborted.Dispose();

    private byte[] NextBuffer()
    {
        if (_free.Reader.TryRead(out var buffer)) return buffer;
        if (_made < Buffers)
        {
            _made++;
            if (_pool?.Rent(PageBytes) is { } rented)
            {
                if (rented.Length == PageBytes) { _rented.Add(rented); return rented; }
                _pool.Return(rented); // a pool may give more, and storage takes whole arrays
            }
            return GC.AllocateUninitializedArray<byte>(PageBytes);
        }
        return _free.Reader.ReadAsync(_aborted.Token).AsTask().GetAwaiter().GetResult();
    }

    // Once aborted the writer's next write fails one way, whether it finds the pipe closed or is woken by the abort.
    private void Send(byte[] page)
    {
        try
        {
            if (!_full.Writer.TryWrite(page)) _full.Writer.WriteAsync(page, _aborted.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (ChannelClosedException e)
        {
            throw new OperationCanceledException("the snapshot's storage stopped", e, _aborted.Token);
        }
    }

    private sealed class PipeStream(SnapshotPipe pipe) : Stream
    {
        private byte[]? _page;
        private int _used;

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            pipe._aborted.Token.ThrowIfCancellationRequested();
            while (buffer.Length > 0)
            {
                _page ??= pipe.NextBuffer();
                var n = Math.Min(buffer.Length, _page.Length - _used);
                buffer[..n].CopyTo(_page.AsSpan(_used));
                _used += n;
                pipe.Length += n;
                buffer = buffer[n..];
                if (_used == _page.Length)
                {
                    pipe.Send(_page);
                    (_page, _used) = (null, 0);
                }
            }
        }

        public void FlushLast()
        {
            if (_page is null) return;
            pipe.Send(_page.AsSpan(0, _used).ToArray()); // its own array: storage takes whole arrays
            (_page, _used) = (null, 0);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void WriteByte(byte value) => Write([value]);
        public override long Length => pipe.Length;
        public override long Position { get => pipe.Length; set => throw new NotSupportedException(); }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
