using RagCluster.Metadata;

namespace RagCluster.Grains.Indexing;

/// <summary>
/// A shard's index of its chunks' tags, every tag indexed: strings, booleans and array items as postings (value to
/// slots), numbers and datetimes as ordered keys (<see cref="SortedKeys{T}"/>). A filter becomes the exact set of
/// slots it matches (<see cref="Select"/>) without reading a chunk, so a search knows how selective it is before it
/// chooses between the exact scan and the filtered walk. <see cref="FilterTerm.Matches"/> is the definition this
/// index must agree with (the tests compare them on random documents and filters).
/// </summary>
internal sealed class ShardTagIndex
{
    private sealed class FieldIndex
    {
        // Strings and array items by their text; booleans by their stored form (which no string can have).
        public readonly Dictionary<string, HashSet<int>> Postings = new(StringComparer.Ordinal);
        public SortedKeys<double>? Numbers;
        public SortedKeys<long>? Instants;
        public bool IsEmpty => Postings.Count == 0 && (Numbers?.Count ?? 0) == 0 && (Instants?.Count ?? 0) == 0;
    }

    private readonly Dictionary<string, FieldIndex> _fields = new(StringComparer.Ordinal);

    public void Add(int slot, IReadOnlyDictionary<string, string> tags)
    {
        foreach (var (key, raw) in tags)
        {
            if (!_fields.TryGetValue(key, out var field)) _fields[key] = field = new FieldIndex();
            if (TagValue.IsPlainString(raw)) { Post(field, raw, slot); continue; }
            var value = TagValue.FromStored(raw);
            switch (value.Kind)
            {
                case TagKind.Integer or TagKind.Float: (field.Numbers ??= new()).Add(value.Number, slot); break;
                case TagKind.DateTime: (field.Instants ??= new()).Add(value.Ticks, slot); break;
                // An array is posted under each item (equality with a string, $containsAny/All) and under its stored form,
                // which no filter string can be: equality with the whole array (an empty one has only that).
                case TagKind.StringArray:
                    Post(field, raw, slot);
                    foreach (var item in value.Items) Post(field, item, slot);
                    break;
                default: Post(field, raw, slot); break;
            }
        }
    }

    public void Remove(int slot, IReadOnlyDictionary<string, string> tags)
    {
        foreach (var (key, raw) in tags)
        {
            if (!_fields.TryGetValue(key, out var field)) continue;
            if (TagValue.IsPlainString(raw)) Unpost(field, raw, slot);
            else
            {
                var value = TagValue.FromStored(raw);
                switch (value.Kind)
                {
                    case TagKind.Integer or TagKind.Float: field.Numbers?.Remove(value.Number, slot); break;
                    case TagKind.DateTime: field.Instants?.Remove(value.Ticks, slot); break;
                    case TagKind.StringArray:
                        Unpost(field, raw, slot);
                        foreach (var item in value.Items) Unpost(field, item, slot);
                        break;
                    default: Unpost(field, raw, slot); break;
                }
            }
            if (field.IsEmpty) _fields.Remove(key);
        }
    }

    public void Clear() => _fields.Clear();

    /// <summary>The live slots <paramref name="term"/> matches, of <paramref name="live"/> (every live slot).</summary>
    public SlotSet Select(FilterTerm term, SlotSet live)
    {
        var set = new SlotSet(live.Capacity);
        switch (term)
        {
            case AllTerm all:
                // The narrowest part first would save little: each part is a run over its own postings, the AND a pass over words.
                live.CopyTo(set);
                foreach (var part in all.Terms) set.And(Select(part, live));
                return set;
            case AnyTerm any:
                foreach (var part in any.Terms) set.Or(Select(part, live));
                return set;
            case NotTerm not:
                return Select(not.Term, live).Complement(live);
            case EqualsTerm eq when _fields.TryGetValue(eq.Field, out var field):
                foreach (var literal in eq.Values) AddEqual(field, literal, set);
                return set;
            case RangeTerm range when _fields.TryGetValue(range.Field, out var field):
                if (range.Instants)
                    field.Instants?.Range(range.Min?.Value.Ticks, range.Min?.Inclusive ?? true, range.Max?.Value.Ticks, range.Max?.Inclusive ?? true, set);
                else
                    field.Numbers?.Range(range.Min?.Value.Number, range.Min?.Inclusive ?? true, range.Max?.Value.Number, range.Max?.Inclusive ?? true, set);
                return set;
            case ExistsTerm exists when _fields.TryGetValue(exists.Field, out var field):
                foreach (var slots in field.Postings.Values) foreach (var slot in slots) set.Add(slot);
                field.Numbers?.All(set);
                field.Instants?.All(set);
                return set;
            case ContainsTerm contains when _fields.TryGetValue(contains.Field, out var field):
                // By the postings alone, never a bitmap a value: a reader of 100 groups would otherwise clear and merge 100
                // bitmaps of the whole shard on every search (a cost by the shard's size, not by what the filter keeps).
                if (!contains.All)
                {
                    foreach (var value in contains.Values)
                        if (field.Postings.TryGetValue(value, out var slots)) foreach (var slot in slots) set.Add(slot);
                    return set;
                }
                var lists = new List<HashSet<int>>(contains.Values.Length);
                foreach (var value in contains.Values)
                    if (field.Postings.TryGetValue(value, out var slots)) lists.Add(slots);
                    else return set; // a value no chunk holds: none holds them all
                lists.Sort((a, b) => a.Count.CompareTo(b.Count));
                foreach (var slot in lists[0])
                    if (lists.Skip(1).All(l => l.Contains(slot))) set.Add(slot);
                return set;
            default:
                return set; // a tag no chunk here has: nothing matches
        }
    }

    private static void AddEqual(FieldIndex field, FilterLiteral literal, SlotSet set)
    {
        var value = literal.Value;
        if (value.IsNumber) field.Numbers?.Range(value.Number, true, value.Number, true, set);
        else if (field.Postings.TryGetValue(value.Kind == TagKind.String ? value.String : value.ToStored(), out var slots))
            foreach (var slot in slots) set.Add(slot);
        if (literal.Instant is { } ticks) field.Instants?.Range(ticks, true, ticks, true, set);
    }

    private static void Post(FieldIndex field, string value, int slot)
    {
        if (!field.Postings.TryGetValue(value, out var slots)) field.Postings[value] = slots = [];
        slots.Add(slot);
    }

    private static void Unpost(FieldIndex field, string value, int slot)
    {
        if (field.Postings.TryGetValue(value, out var slots) && slots.Remove(slot) && slots.Count == 0) field.Postings.Remove(value);
    }
}
