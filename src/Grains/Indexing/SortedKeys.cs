namespace RagCluster.Grains.Indexing;

/// <summary>
/// One tag's numbers (or instants) in a shard as ordered keys with their slots: a range is a binary search and a run,
/// not a read of every chunk. Writes go to a small unsorted tail and removals to a set of dead pairs, both folded into
/// the sorted arrays once they reach an eighth of them, so a write costs no array shift and a range stays a run.
/// A sorted array rather than a tree: 12 bytes a key against a SortedSet node's 48, and a run reads memory in order.
/// </summary>
internal sealed class SortedKeys<T> where T : struct, IComparable<T>
{
    private T[] _keys = [];
    private int[] _slots = [];
    private readonly List<(T Key, int Slot)> _tail = [];
    private readonly HashSet<(T Key, int Slot)> _dead = [];

    public int Count => _keys.Length - _dead.Count + _tail.Count;

    public void Add(T key, int slot)
    {
        if (!_dead.Remove((key, slot))) _tail.Add((key, slot));
        FoldIfLarge();
    }

    public void Remove(T key, int slot)
    {
        var i = _tail.IndexOf((key, slot));
        if (i >= 0)
        {
            _tail[i] = _tail[^1];
            _tail.RemoveAt(_tail.Count - 1);
        }
        else _dead.Add((key, slot));
        FoldIfLarge();
    }

    /// <summary>Adds to <paramref name="into"/> every slot whose key lies within the bounds (null: unbounded on that side).</summary>
    public void Range(T? min, bool minInclusive, T? max, bool maxInclusive, SlotSet into)
    {
        var start = min is { } lo ? LowerBound(lo, minInclusive) : 0;
        var checkDead = _dead.Count > 0;
        for (var i = start; i < _keys.Length; i++)
        {
            var key = _keys[i];
            if (max is { } hi && (maxInclusive ? key.CompareTo(hi) > 0 : key.CompareTo(hi) >= 0)) break;
            if (checkDead && _dead.Contains((key, _slots[i]))) continue;
            into.Add(_slots[i]);
        }
        foreach (var (key, slot) in _tail)
            if (Within(key, min, minInclusive, max, maxInclusive)) into.Add(slot);
    }

    /// <summary>Adds every slot that has a key.</summary>
    public void All(SlotSet into) => Range(null, true, null, true, into);

    private static bool Within(T key, T? min, bool minInclusive, T? max, bool maxInclusive) =>
        (min is not { } lo || (minInclusive ? key.CompareTo(lo) >= 0 : key.CompareTo(lo) > 0))
        && (max is not { } hi || (maxInclusive ? key.CompareTo(hi) <= 0 : key.CompareTo(hi) < 0));

    // The first index whose key is at or past the lower bound.
    private int LowerBound(T lo, bool inclusive)
    {
        int a = 0, b = _keys.Length;
        while (a < b)
        {
            var mid = (a + b) >>> 1;
            var c = _keys[mid].CompareTo(lo);
            if (c < 0 || (c == 0 && !inclusive)) a = mid + 1;
            else b = mid;
        }
        return a;
    }

    // The tail sorted on its own, then merged with the live keys in one pass: linear in the keys, so a bulk load's
    // folds cost a few passes over the keys in all, not a sort each.
    private void FoldIfLarge()
    {
        if (_tail.Count + _dead.Count <= Math.Max(256, _keys.Length / 8)) return;
        _tail.Sort((x, y) => Compare(x.Key, x.Slot, y.Key, y.Slot));
        var size = _keys.Length + _tail.Count; // trimmed below: dead pairs drop out
        var keys = new T[size];
        var slots = new int[size];
        int i = 0, t = 0, o = 0;
        while (i < _keys.Length || t < _tail.Count)
        {
            if (i < _keys.Length && _dead.Count > 0 && _dead.Contains((_keys[i], _slots[i]))) { i++; continue; }
            if (t == _tail.Count || (i < _keys.Length && Compare(_keys[i], _slots[i], _tail[t].Key, _tail[t].Slot) <= 0))
            {
                (keys[o], slots[o]) = (_keys[i], _slots[i]);
                i++;
            }
            else
            {
                (keys[o], slots[o]) = _tail[t];
                t++;
            }
            o++;
        }
        Array.Resize(ref keys, o);
        Array.Resize(ref slots, o);
        (_keys, _slots) = (keys, slots);
        _tail.Clear();
        _dead.Clear();
    }

    private static int Compare(T a, int slotA, T b, int slotB) => a.CompareTo(b) is var c && c != 0 ? c : slotA.CompareTo(slotB);
}
