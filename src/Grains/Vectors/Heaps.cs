namespace RagCluster.Grains.Vectors;

/// <summary>Generation-stamped visited marks: resetting is O(1), not a clear of the whole array.</summary>
internal sealed class VisitedSet(int capacity)
{
    private int[] _marks = new int[capacity];
    private int _generation = 1;

    public void EnsureCapacity(int n)
    {
        if (n > _marks.Length) Array.Resize(ref _marks, Math.Max(n, _marks.Length * 2));
    }

    public void Reset()
    {
        if (++_generation == int.MaxValue) { Array.Clear(_marks); _generation = 1; }
    }

    /// <summary>Marks the node; false if it was already marked in this generation.</summary>
    public bool Visit(int node)
    {
        ref var m = ref _marks[node];
        if (m == _generation) return false;
        m = _generation;
        return true;
    }
}

/// <summary>Binary min-heap of (distance, node) on flat arrays (no per-item allocation).</summary>
internal struct MinHeap(int capacity)
{
    private float[] _keys = new float[Math.Max(4, capacity)];
    private int[] _values = new int[Math.Max(4, capacity)];
    public int Count { get; private set; }

    public void Clear() => Count = 0;

    public float PeekKey() => _keys[0];

    public void Push(float key, int value)
    {
        if (Count == _keys.Length) { Array.Resize(ref _keys, Count * 2); Array.Resize(ref _values, Count * 2); }
        var i = Count++;
        while (i > 0)
        {
            var p = (i - 1) >> 1;
            if (_keys[p] <= key) break;
            _keys[i] = _keys[p]; _values[i] = _values[p];
            i = p;
        }
        _keys[i] = key; _values[i] = value;
    }

    public (float Key, int Value) Pop()
    {
        var top = (_keys[0], _values[0]);
        var n = --Count;
        if (n > 0) SiftDown(_keys[n], _values[n], n);
        return top;
    }

    private void SiftDown(float key, int value, int n)
    {
        var i = 0;
        while (true)
        {
            var c = 2 * i + 1;
            if (c >= n) break;
            if (c + 1 < n && _keys[c + 1] < _keys[c]) c++;
            if (_keys[c] >= key) break;
            _keys[i] = _keys[c]; _values[i] = _values[c];
            i = c;
        }
        _keys[i] = key; _values[i] = value;
    }
}

/// <summary>Max-heap of (distance, node), the current worst result on top: a min-heap of negated keys.</summary>
internal sealed class MaxHeap(int capacity)
{
    private MinHeap _heap = new(capacity);
    public int Count => _heap.Count;
    public void Clear() => _heap.Clear();
    public float PeekKey() => -_heap.PeekKey();
    public void Push(float key, int value) => _heap.Push(-key, value);

    public (float Key, int Value) Pop()
    {
        var (k, v) = _heap.Pop();
        return (-k, v);
    }
}
