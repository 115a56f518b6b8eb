using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Hosting;
using Orleans.Runtime;
using RagCluster.Grains.Interfaces.Diagnostics;

// Runtime benchmark on Orleans: grain-call throughput and latency for local, client->silo and silo->silo calls on
// 1 and 2 silos over loopback (Orleans' development clustering), and memory per idle activation.
// Usage: RagCluster.Bench [seconds-per-case]
var seconds = args.Length > 0 && double.TryParse(args[0], out var s) ? s : 5;
var concurrency = 64;
var payload = new byte[64];

async Task<IHost> NewSilo(int siloPort, int gatewayPort, IPEndPoint? primary)
{
    var host = Host.CreateDefaultBuilder().ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Error))
        .UseOrleans(silo => silo.UseLocalhostClustering(siloPort, gatewayPort, primary).AddMemoryGrainStorageAsDefault()).Build();
    await host.StartAsync();
    return host;
}

async Task<IHost> NewClient(int gatewayPort)
{
    var host = Host.CreateDefaultBuilder().ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Error))
        .UseOrleansClient(c => c.UseLocalhostClustering(gatewayPort)).Build();
    await host.StartAsync();
    return host;
}

static IGrainFactory Grains(IHost host) => host.Services.GetRequiredService<IGrainFactory>();

Console.WriteLine($"# RagCluster runtime benchmark (Orleans) — {Environment.ProcessorCount} cores, .NET {Environment.Version}, {seconds}s per case, {concurrency} concurrent callers, {payload.Length}-byte payload");
Console.WriteLine();
Console.WriteLine("| case | calls/s | p50 µs | p99 µs | sequential p50 µs | sequential p99 µs |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|");

var a = await NewSilo(21111, 31000, null);
var keysOnA = Enumerable.Range(0, 10_000).Select(i => $"k{i}").ToArray();
await Run("local call (1 silo, in-silo caller)", Grains(a), keysOnA);
using (var client = await NewClient(31000))
    await Run("client -> silo (1 silo)", Grains(client), keysOnA);

var b = await NewSilo(21112, 31001, new IPEndPoint(IPAddress.Loopback, 21111));
var bAddress = b.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToString();
await Task.Delay(2000); // let both silos see each other
var keysOnB = new List<string>();
for (var i = 0; keysOnB.Count < 1000 && i < 100_000; i++)
    if ((await Grains(a).GetGrain<IPingGrain>($"b{i}").Ping([])).SiloId == bAddress) keysOnB.Add($"b{i}");
await Run("silo -> silo (2 silos)", Grains(a), keysOnB.ToArray());
using (var client = await NewClient(31000))
    await Run("client -> gateway -> owner silo (2 silos)", Grains(client), keysOnB.ToArray());
await b.StopAsync();
await a.StopAsync();

// Memory per idle activation: activate N grains locally and compare the managed heap before and after.
var m = await NewSilo(21113, 31002, null);
await Grains(m).GetGrain<IPingGrain>("warm").Ping([]);
const int activations = 20_000;
var before = Heap();
for (var i = 0; i < activations; i += 500)
    await Task.WhenAll(Enumerable.Range(i, 500).Select(j => Grains(m).GetGrain<IPingGrain>($"idle-{j}").Ping([])));
var after = Heap();
Console.WriteLine();
Console.WriteLine($"memory per idle activation: {(after - before) / (double)activations:0} bytes (managed heap, {activations} activations, grain directory entries included)");
await m.StopAsync();
return;

static long Heap()
{
    for (var i = 0; i < 3; i++) GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    GC.WaitForPendingFinalizers();
    return GC.GetTotalMemory(forceFullCollection: true);
}

async Task Run(string name, IGrainFactory grains, string[] keys)
{
    // Warm up: activate every key and JIT the paths.
    foreach (var chunk in keys.Chunk(500)) await Task.WhenAll(chunk.Select(k => grains.GetGrain<IPingGrain>(k).Ping(payload)));

    var sequential = new List<double>();
    var seqClock = Stopwatch.StartNew();
    for (var i = 0; seqClock.Elapsed.TotalSeconds < Math.Min(2, seconds / 2); i++)
    {
        var t = Stopwatch.GetTimestamp();
        await grains.GetGrain<IPingGrain>(keys[i % keys.Length]).Ping(payload);
        sequential.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
    }

    var latencies = new List<double>[concurrency];
    var stop = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
    {
        var mine = latencies[w] = new List<double>(100_000);
        for (var i = w; stop.Elapsed.TotalSeconds < seconds; i += concurrency)
        {
            var t = Stopwatch.GetTimestamp();
            await grains.GetGrain<IPingGrain>(keys[i % keys.Length]).Ping(payload);
            mine.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
        }
    })).ToArray();
    await Task.WhenAll(workers);
    var all = latencies.SelectMany(l => l).Order().ToArray();
    var seq = sequential.Order().ToArray();
    Console.WriteLine($"| {name} | {all.Length / stop.Elapsed.TotalSeconds:N0} | {P(all, 0.50):0} | {P(all, 0.99):0} | {P(seq, 0.50):0} | {P(seq, 0.99):0} |");
}

static double P(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
