using System.Numerics;

namespace RagCluster.Grains.Indexing;

/// <summary>
/// A set of a shard's slots as a bitmap: a filter's terms combine by AND, OR and NOT a word at a time, and a graph
/// walk asks "is this slot in?" in one load (a shard of 100,000 chunks is 12.5 KB of bits).
/// </summary>
internal sealed class SlotSet
{
    private ulong[] _words;

    public SlotSet(int slots) => _words = new ulong[(slots + 63) >> 6];

    public int Capacity => _words.Length << 6;

    /// <summary>Makes room for slots 0..<paramref name="slots"/>-1 (new ones out of the set).</summary>
    public void Grow(int slots)
    {
        if (slots > Capacity) Array.Resize(ref _words, Math.Max((slots + 63) >> 6, _words.Length * 2));
    }

    public void Add(int slot) => _words[slot >> 6] |= 1UL << slot;

    public void Remove(int slot) => _words[slot >> 6] &= ~(1UL << slot);

    public bool Contains(int slot) => (uint)(slot >> 6) < (uint)_words.Length && (_words[slot >> 6] & (1UL << slot)) != 0;

    public int Count
    {
        get
        {
            var n = 0;
            foreach (var w in _words) n += BitOperations.PopCount(w);
            return n;
        }
    }

    public SlotSet And(SlotSet other)
    {
        for (var i = 0; i < _words.Length; i++) _words[i] &= i < other._words.Length ? other._words[i] : 0;
        return this;
    }

    public SlotSet Or(SlotSet other)
    {
        for (var i = 0; i < _words.Length && i < other._words.Length; i++) _words[i] |= other._words[i];
        return this;
    }

    /// <summary>The slots of <paramref name="universe"/> not in this set (this set changed in place).</summary>
    public SlotSet Complement(SlotSet universe)
    {
        for (var i = 0; i < _words.Length; i++) _words[i] = ~_words[i] & (i < universe._words.Length ? universe._words[i] : 0);
        return this;
    }

    public SlotSet CopyTo(SlotSet target)
    {
        Array.Copy(_words, target._words, Math.Min(_words.Length, target._words.Length));
        return target;
    }

    /// <summary>The slots in ascending order.</summary>
    public IEnumerable<int> Slots()
    {
        for (var i = 0; i < _words.Length; i++)
        {
            var w = _words[i];
            while (w != 0)
            {
                yield return (i << 6) + BitOperations.TrailingZeroCount(w);
                w &= w - 1;
            }
        }
    }
}
