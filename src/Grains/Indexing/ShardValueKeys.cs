using RagCluster.Metadata;

namespace RagCluster.Grains.Indexing;

/// <summary>How a linked field's value is named in a shard's graph (a field name and a value never hold U+0000).</summary>
internal static class ShardValueKeys
{
    public static string Of(string field, string value) => field + "\0" + value;

    /// <summary>The linked values a chunk's tags hold: each string, or each item of a string array, of a linked field.</summary>
    public static IEnumerable<string> Held(IReadOnlyDictionary<string, string> tags, IReadOnlyCollection<string> linkedFields)
    {
        foreach (var field in linkedFields)
        {
            if (!tags.TryGetValue(field, out var raw)) continue;
            if (TagValue.IsPlainString(raw)) { yield return Of(field, raw); continue; }
            var value = TagValue.FromStored(raw);
            if (value.Kind == TagKind.String) yield return Of(field, value.String);
            else if (value.Kind == TagKind.StringArray)
                foreach (var item in value.Items) yield return Of(field, item);
        }
    }
}
