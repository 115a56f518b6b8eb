using System.CommandLine;
using RagCluster.Cli;

// ragcluster: ingest, search, ask, status, eval, keys, tenants, aliases, backup, restore and drop against the embedded default (the API silo in this process on
// ./data) or, with --url (env RAGCLUSTER_URL), a running cluster's HTTP API. Errors are one line, exit code 1.
var url = new Option<string?>("--url") { Description = "HTTP API of a running cluster (default: the API silo embedded in this process; env RAGCLUSTER_URL)" };
var data = new Option<string>("--data") { Description = "embedded mode: data folder", DefaultValueFactory = _ => "./data" };
var model = new Option<string?>("--model") { Description = "embedded mode: minilm or arctic-xs (built in), none (BM25 only) or a model folder (env RAGCLUSTER_MODEL)" };
var collection = new Option<string>("--collection", "-c") { Description = "collection name (or an alias of one)", DefaultValueFactory = _ => "default" };
var topK = new Option<int>("--top", "-k") { Description = "results to return (1..100)", DefaultValueFactory = _ => 5 };
var plan = new Option<string?>("--plan") { Description = "auto, vector, bm25, hybrid, hybrid-k10 or hybrid-rrf" };

var apiKey = new Option<string?>("--api-key") { Description = "API key for --url (env RAGCLUSTER_API_KEY)" };
var root = new RootCommand("RagCluster command line") { url, apiKey, data, model };
root.Options.Add(collection);
foreach (var o in root.Options) o.Recursive = true;

var paths = new Argument<string[]>("paths") { Description = "files or folders (recursed)", Arity = ArgumentArity.OneOrMore };
var tags = new Option<string[]>("--tag") { Description = "key=value tag for every document (repeatable)" };
var accessField = new Option<string?>("--access-field") { Description = "a new collection's access field: the tag listing each document's reader groups (e.g. acl, with --tag acl='[\"hr\"]')" };
var ingest = new Command("ingest", "add or update documents (txt, md, html, json, docx, pdf)") { paths, tags, accessField };
ingest.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.Ingest(b, p.GetValue(collection)!, p.GetValue(paths)!, p.GetValue(tags) ?? [], c, p.GetValue(accessField))));

var query = new Argument<string>("query");
var filter = new Option<string?>("--filter") { Description = "only chunks whose tags match this filter (JSON), e.g. '{\"year\":{\"$gte\":2020}}'" };
var groupBy = new Option<string?>("--group-by") { Description = "document: the top documents, each with its best chunks" };
var groupSize = new Option<int?>("--group-size") { Description = "with --group-by: chunks a document shows (1..10)" };
var minScore = new Option<double?>("--min-score") { Description = "drop hits scored below this (the plan's score)" };
var offset = new Option<int?>("--offset") { Description = "hits (or documents) to skip, to page; offset + top at most 1000" };
var fusion = new Option<string?>("--fusion") { Description = "how the hybrid plan fuses: rrf (by rank) or relative (by scaled score)" };
var alpha = new Option<double?>("--alpha") { Description = "the hybrid plan's weight on the vector side, 0..1" };
var search = new Command("search", "retrieve matching chunks") { query, topK, plan, filter, groupBy, groupSize, minScore, offset, fusion, alpha };
search.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.Search(b, p.GetValue(collection)!, p.GetValue(query)!, p.GetValue(topK), p.GetValue(plan), p.GetValue(filter),
    (p.GetValue(groupBy), p.GetValue(groupSize), p.GetValue(minScore), p.GetValue(offset), p.GetValue(fusion), p.GetValue(alpha)), c)));

var question = new Argument<string>("question");
var chat = new Option<bool>("--chat") { Description = "a conversation: after the answer, each line of standard input is a follow-up that may refer to what came before (an empty line ends it)" };
var ask = new Command("ask", "answer a question with citations") { question, topK, filter, chat };
ask.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.Ask(b, p.GetValue(collection)!, p.GetValue(question)!, p.GetValue(topK), p.GetValue(filter), c, p.GetValue(chat))));

var documentId = new Argument<string?>("document") { Arity = ArgumentArity.ZeroOrOne, Description = "a document id (default: the collection)" };
var status = new Command("status", "collection or document status") { documentId };
status.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.Status(b, p.GetValue(collection)!, p.GetValue(documentId), c)));

var beir = new Argument<string>("beir-folder") { Description = "folder with corpus.jsonl, queries.jsonl and qrels/*.tsv" };
var plans = new Option<string>("--plans") { Description = "comma-separated plans to score", DefaultValueFactory = _ => "bm25,vector,hybrid" };
var maxQueries = new Option<int>("--max-queries") { Description = "score at most this many queries (0 = all)", DefaultValueFactory = _ => 0 };
var askScores = new Option<bool>("--ask") { Description = "also score /ask's citations: per answer, their precision, the answers citing a relevant document, beside search's top 3" };
var followUps = new Option<bool>("--followups") { Description = "the folder holds corpus.jsonl and conversations.jsonl: score follow-ups searched alone and made standalone" };
var eval = new Command("eval", "nDCG@10 and recall@100 on a BEIR-format dataset (ingests its corpus first)") { beir, plans, maxQueries, askScores, followUps };
eval.SetAction((p, ct) => Run(p, ct, (b, c) => p.GetValue(followUps) ? Commands.FollowUpEval(b, p.GetValue(collection)!, p.GetValue(beir)!, c)
    : Commands.Eval(b, p.GetValue(collection)!, p.GetValue(beir)!, p.GetValue(plans)!.Split(','), p.GetValue(maxQueries), c, p.GetValue(askScores))));

var tenant = new Option<string?>("--tenant") { Description = "tenant of the key (default: the caller's; embedded: 'default')" };
var role = new Option<string>("--role") { Description = "operator (the whole cluster), admin (its own tenant), writer or reader", Required = true };
var description = new Option<string>("--description") { Description = "what the key is for", DefaultValueFactory = _ => "" };
var keyId = new Argument<string>("key-id") { Description = "the key id (kXXXXXXXXXXXXXXXX)" };
var groups = new Option<string[]>("--group") { Description = "a group whose documents the key reads in collections with an access field (repeatable)", DefaultValueFactory = _ => [] };
var keysCreate = new Command("create", "create an API key (its secret is printed once)") { tenant, role, description, groups };
keysCreate.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.CreateKey(b, p.GetValue(tenant) ?? RagCluster.Grains.Interfaces.Security.TenantScope.DefaultTenant, p.GetValue(role)!, p.GetValue(description)!, p.GetValue(groups)!, c)));
var keysGroups = new Command("groups", "replace a key's groups (none given: no group)") { keyId, groups };
keysGroups.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.SetKeyGroups(b, p.GetValue(keyId)!, p.GetValue(groups)!, c)));
var keysList = new Command("list", "list a tenant's keys (never their secrets)") { tenant };
keysList.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.ListKeys(b, p.GetValue(tenant), c)));
var keysRotate = new Command("rotate", "replace a key's secret; the old one stops working") { keyId };
keysRotate.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.RotateKey(b, p.GetValue(keyId)!, c)));
var keysRevoke = new Command("revoke", "revoke a key for good") { keyId };
keysRevoke.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.RevokeKey(b, p.GetValue(keyId)!, c)));
var aliasName = new Argument<string>("alias") { Description = "the alias: a name that stands for a collection" };
var aliasTarget = new Argument<string>("collection") { Description = "the collection it names" };
var aliasesSet = new Command("set", "create an alias or move it to another collection in one step") { aliasName, aliasTarget };
aliasesSet.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.SetAlias(b, p.GetValue(aliasName)!, p.GetValue(aliasTarget)!, c)));
var aliasesList = new Command("list", "list the aliases and the collection each names");
aliasesList.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.ListAliases(b, c)));
var aliasesDelete = new Command("delete", "delete an alias (not its collection)") { aliasName };
aliasesDelete.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.DeleteAlias(b, p.GetValue(aliasName)!, c)));
var aliases = new Command("aliases", "names that stand for a collection on every command: -c ALIAS") { aliasesSet, aliasesList, aliasesDelete };
var tenantName = new Argument<string>("tenant") { Description = "the tenant's name (embedded: 'default')" };
Option<long?> Limit(string name, string what) => new($"--{name}") { Description = $"most {what} the tenant may hold (left out: unlimited)" };
var (maxCollections, maxDocuments, maxVectors, maxBytes) = (Limit("collections", "collections"), Limit("documents", "documents"), Limit("vectors", "vectors (chunks)"), Limit("bytes", "bytes (chunk text and own vectors)"));
var tenantsLimits = new Command("limits", "replace what a tenant may store (operator)") { tenantName, maxCollections, maxDocuments, maxVectors, maxBytes };
tenantsLimits.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.SetTenantLimits(b, p.GetValue(tenantName)!,
    new(p.GetValue(maxCollections), p.GetValue(maxDocuments), p.GetValue(maxVectors), p.GetValue(maxBytes)), c)));
var tenantsUsage = new Command("usage", "what a tenant stores, against its limits (operator, or the tenant's admin)") { tenantName };
tenantsUsage.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.TenantUsage(b, p.GetValue(tenantName)!, c)));
var tenants = new Command("tenants", "a tenant's share: its limits and usage") { tenantsLimits, tenantsUsage };
var keys = new Command("keys", "manage API keys (operator, or a tenant admin for its own tenant)") { keysCreate, keysList, keysGroups, keysRotate, keysRevoke };

var backupCollection = new Argument<string>("collection") { Description = "the collection" };
var backupFile = new Argument<string>("file") { Description = "the backup file (zip with a checksum manifest)" };
var backup = new Command("backup", "save a collection (documents, chunks, vectors, settings) to a file") { backupCollection, backupFile };
backup.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.Backup(b, p.GetValue(backupCollection)!, p.GetValue(backupFile)!, c)));
var restore = new Command("restore", "restore a backup file into a new collection (verified before anything is written)") { backupCollection, backupFile };
restore.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.Restore(b, p.GetValue(backupCollection)!, p.GetValue(backupFile)!, c)));

var dropCollection = new Argument<string>("collection") { Description = "the collection to delete" };
var drop = new Command("drop", "delete a collection with all its documents and chunks") { dropCollection };
drop.SetAction((p, ct) => Run(p, ct, (b, c) => Commands.Drop(b, p.GetValue(dropCollection)!, c)));

root.Subcommands.Add(ingest);
root.Subcommands.Add(search);
root.Subcommands.Add(ask);
root.Subcommands.Add(status);
root.Subcommands.Add(eval);
root.Subcommands.Add(keys);
root.Subcommands.Add(tenants);
root.Subcommands.Add(aliases);
root.Subcommands.Add(backup);
root.Subcommands.Add(restore);
root.Subcommands.Add(drop);
return await root.Parse(args).InvokeAsync();

async Task<int> Run(ParseResult p, CancellationToken ct, Func<IRagBackend, CancellationToken, Task<int>> body)
{
    try
    {
        var target = p.GetValue(url) ?? Environment.GetEnvironmentVariable("RAGCLUSTER_URL");
        await using IRagBackend backend = target is { Length: > 0 }
            ? new HttpBackend(target, p.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("RAGCLUSTER_API_KEY"))
            : await EmbeddedApi.StartAsync(p.GetValue(data)!, p.GetValue(model), ct);
        return await body(backend, ct);
    }
    catch (Exception e) when (e is CliException or HttpRequestException or IOException or ArgumentException or InvalidOperationException
                                  or Orleans.Runtime.OrleansException or TimeoutException or Orleans.Storage.InconsistentStateException or UriFormatException or TaskCanceledException
                                  or Microsoft.Extensions.Options.OptionsValidationException)
    {
        // One line; a setting the embedded silo could not take names its key (StartupErrors).
        Console.Error.WriteLine($"ragcluster: {RagCluster.Hosting.StartupErrors.Describe(e)}");
        return 1;
    }
}
