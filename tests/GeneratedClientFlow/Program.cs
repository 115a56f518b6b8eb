// The README flow through a client that Kiota generated from /openapi/v1.json: nothing here is written by hand for RagCluster.
using Generated;
using Generated.Models;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;

var (baseUrl, key) = (args[0], args[1]);
// Kiota's own API-key provider insists on https; the test server listens on loopback http, so the key goes in a default header.
var http = KiotaClientFactory.Create();
http.DefaultRequestHeaders.Add("X-Api-Key", key);
var client = new RagClusterClient(new HttpClientRequestAdapter(new AnonymousAuthenticationProvider(), httpClient: http) { BaseUrl = baseUrl });

var created = await client.V1.Collections.PostAsync(new CreateCollectionRequest { Name = "generated", ShardCount = 2 });
Console.WriteLine($"created {created!.Collection} shards={created.Settings!.ShardCount}");
await client.V1.Collections["generated"].Documents.PostAsync(new IngestBody
{
    Id = "tea", Text = "Green tea is brewed at about 80 degrees Celsius for two minutes.", Tags = new() { AdditionalData = { ["lang"] = "en" } },
});
DocumentStatusReply? status = null;
for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; await Task.Delay(200))
    if ((status = await client.V1.Collections["generated"].Documents["tea"].GetAsync())!.Status is "indexed" or "failed") break;
Console.WriteLine($"status {status!.Status} chunks={status.ChunkCount}");
var found = await client.V1.Collections["generated"].Search.PostAsync(new SearchBody { Query = "green tea temperature", TopK = 3 });
Console.WriteLine($"hits {found!.Hits!.Count} first={found.Hits[0].DocumentId} plan={found.Plan}");
try
{
    await client.V1.Collections["never-made"].Search.PostAsync(new SearchBody { Query = "x" });
}
catch (ProblemDetails problem)
{
    Console.WriteLine($"problem {problem.Status} {problem.Title}");
}
