namespace RagCluster.Grains.Interfaces.Security;

/// <summary>
/// What a caller may read in a collection with an access field (<see cref="Collections.CollectionSettings.AccessField"/>):
/// every document (<see cref="Everything"/>: operators and tenant admins, who mint keys of any group anyway), or those
/// whose access field shares one of <see cref="Groups"/>. Set by the API from the authenticated key or token, never
/// from a request body. A request with none sees nothing in such a collection.
/// </summary>
[GenerateSerializer, Immutable, Alias("rc.ReadAccess")]
public sealed record ReadAccess(bool Everything, string[] Groups)
{
    public const int MaxGroups = 100, MaxGroupLength = 128;

    public static readonly ReadAccess All = new(true, []);
    public static readonly ReadAccess None = new(false, []);

    /// <summary>These groups, sorted and without repeats (so equal rights make equal cache keys).</summary>
    public static ReadAccess Of(IEnumerable<string> groups) => new(false, groups.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray());

    /// <summary>Why <paramref name="groups"/> cannot be a key's or token's groups (naming <paramref name="field"/>), or null.</summary>
    public static string? GroupsProblem(IReadOnlyList<string?>? groups, string field = "groups")
    {
        if (groups is null) return null;
        if (groups.Count > MaxGroups) return $"{field}: at most {MaxGroups} groups (got {groups.Count})";
        for (var i = 0; i < groups.Count; i++)
            if (groups[i] is not { Length: > 0 and <= MaxGroupLength } g || g.Contains('\0'))
                return $"{field}[{i}]: a group name is 1..{MaxGroupLength} characters without U+0000";
        return null;
    }
}
