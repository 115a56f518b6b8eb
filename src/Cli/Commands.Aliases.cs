namespace RagCluster.Cli;

// Aliases: a name that stands for a collection on every command, moved in one step (the re-embed recipe in docs/cli.md).
public static partial class Commands
{
    public static async Task<int> SetAlias(IRagBackend backend, string alias, string collection, CancellationToken ct)
    {
        var a = await backend.SetAliasAsync(alias, collection, ct);
        Console.WriteLine($"alias '{a.Alias}' names '{a.Collection}'");
        return 0;
    }

    public static async Task<int> ListAliases(IRagBackend backend, CancellationToken ct)
    {
        foreach (var a in await backend.ListAliasesAsync(ct)) Console.WriteLine($"{a.Alias,-24} -> {a.Collection,-24} set {a.UpdatedAt:u}");
        return 0;
    }

    public static async Task<int> DeleteAlias(IRagBackend backend, string alias, CancellationToken ct)
    {
        if (!await backend.DeleteAliasAsync(alias, ct)) throw new CliException($"no alias '{alias}'");
        Console.WriteLine($"deleted alias '{alias}' (its collection stays)");
        return 0;
    }
}
