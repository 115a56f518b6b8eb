using System.Runtime.InteropServices;

namespace RagCluster.Grains.Embedding.Onnx;

/// <summary>The ONNX Runtime call failed; the message is ORT's own.</summary>
public sealed class OnnxRuntimeException(string message) : Exception(message);

/// <summary>
/// The slice of the ONNX Runtime C API (onnxruntime_c_api.h) that sentence embedding needs, called through
/// the function table that OrtGetApiBase()->GetApi() returns. Slot numbers are positions in struct OrtApi,
/// which ORT only ever appends to, so they hold for every version at or above the one requested.
/// </summary>
internal sealed unsafe class OrtNative
{
    // Everything used here exists since API version 16 (ORT 1.16); newer libraries serve older versions.
    private const uint ApiVersion = 16;

    private const int CreateStatusSlot = 0, GetErrorCodeSlot = 1, GetErrorMessageSlot = 2, CreateEnvSlot = 3,
        CreateSessionSlot = 7, RunSlot = 9, CreateSessionOptionsSlot = 10, SetGraphOptimizationLevelSlot = 23,
        SetIntraOpNumThreadsSlot = 24, SetInterOpNumThreadsSlot = 25, SessionGetInputCountSlot = 30,
        SessionGetOutputCountSlot = 31, SessionGetInputNameSlot = 36, SessionGetOutputNameSlot = 37,
        CreateTensorWithDataSlot = 49, GetTensorMutableDataSlot = 51, GetDimensionsCountSlot = 61, GetDimensionsSlot = 62,
        GetTensorTypeAndShapeSlot = 65, CreateCpuMemoryInfoSlot = 69, AllocatorFreeSlot = 76,
        GetAllocatorWithDefaultOptionsSlot = 78, ReleaseEnvSlot = 92, ReleaseStatusSlot = 93, ReleaseMemoryInfoSlot = 94,
        ReleaseSessionSlot = 95, ReleaseValueSlot = 96, ReleaseTensorTypeAndShapeInfoSlot = 99,
        ReleaseSessionOptionsSlot = 100, GetAvailableProvidersSlot = 125, ReleaseAvailableProvidersSlot = 126, AddSessionConfigEntrySlot = 130,
        AppendCudaV2Slot = 204, CreateCudaOptionsSlot = 205, UpdateCudaOptionsSlot = 206, ReleaseCudaOptionsSlot = 208;

    public const int TensorFloat = 1, TensorInt64 = 7;

    private readonly nint* _api;

    private OrtNative(nint library, nint* api, string version)
    {
        Library = library;
        _api = api;
        Version = version;
    }

    public nint Library { get; }
    public string Version { get; }

    private static readonly Lock LoadLock = new();
    private static readonly Dictionary<string, OrtNative> Loaded = new(StringComparer.Ordinal);

    /// <summary>Loads libonnxruntime from <paramref name="libraryPath"/> once per process.</summary>
    public static OrtNative Load(string libraryPath)
    {
        var full = Path.GetFullPath(libraryPath);
        lock (LoadLock)
        {
            if (Loaded.TryGetValue(full, out var existing)) return existing;
            if (!File.Exists(full)) throw new OnnxRuntimeException($"ONNX Runtime library not found at '{full}'");
            nint lib;
            try
            {
                lib = NativeLibrary.Load(full);
            }
            catch (DllNotFoundException e)
            {
                throw new OnnxRuntimeException($"cannot load ONNX Runtime from '{full}': {e.Message}");
            }
            if (!NativeLibrary.TryGetExport(lib, "OrtGetApiBase", out var getApiBase))
                throw new OnnxRuntimeException($"'{full}' does not export OrtGetApiBase; is it libonnxruntime?");
            var apiBase = ((delegate* unmanaged[Cdecl]<nint*>)getApiBase)();
            var getApi = (delegate* unmanaged[Cdecl]<uint, nint*>)apiBase[0];
            var getVersion = (delegate* unmanaged[Cdecl]<byte*>)apiBase[1];
            var version = Marshal.PtrToStringUTF8((nint)getVersion()) ?? "?";
            var api = getApi(ApiVersion);
            if (api == null) throw new OnnxRuntimeException($"ONNX Runtime {version} does not serve API version {ApiVersion}");
            var native = new OrtNative(lib, api, version);
            Loaded[full] = native;
            return native;
        }
    }

    private void Check(nint status)
    {
        if (status == 0) return;
        var message = Marshal.PtrToStringUTF8((nint)((delegate* unmanaged[Cdecl]<nint, byte*>)_api[GetErrorMessageSlot])(status));
        var code = ((delegate* unmanaged[Cdecl]<nint, int>)_api[GetErrorCodeSlot])(status);
        ((delegate* unmanaged[Cdecl]<nint, void>)_api[ReleaseStatusSlot])(status);
        throw new OnnxRuntimeException($"ONNX Runtime error {code}: {message}");
    }

    /// <summary>Round-trips a status through ORT: proves the function table is the one we think it is.</summary>
    public string EchoStatus(int code, string message)
    {
        var bytes = Utf8Z(message);
        fixed (byte* p = bytes)
        {
            var status = ((delegate* unmanaged[Cdecl]<int, byte*, nint>)_api[CreateStatusSlot])(code, p);
            try
            {
                Check(status);
                return "";
            }
            catch (OnnxRuntimeException e)
            {
                return e.Message;
            }
        }
    }

    public nint CreateEnv(string logId)
    {
        nint env;
        fixed (byte* id = Utf8Z(logId))
            Check(((delegate* unmanaged[Cdecl]<int, byte*, nint*, nint>)_api[CreateEnvSlot])(3 /* ORT_LOGGING_LEVEL_ERROR */, id, &env));
        return env;
    }

    public nint CreateSessionOptions()
    {
        nint options;
        Check(((delegate* unmanaged[Cdecl]<nint*, nint>)_api[CreateSessionOptionsSlot])(&options));
        return options;
    }

    public void SetGraphOptimizationLevel(nint options, int level) =>
        Check(((delegate* unmanaged[Cdecl]<nint, int, nint>)_api[SetGraphOptimizationLevelSlot])(options, level));

    public void SetIntraOpNumThreads(nint options, int n) =>
        Check(((delegate* unmanaged[Cdecl]<nint, int, nint>)_api[SetIntraOpNumThreadsSlot])(options, n));

    public void SetInterOpNumThreads(nint options, int n) =>
        Check(((delegate* unmanaged[Cdecl]<nint, int, nint>)_api[SetInterOpNumThreadsSlot])(options, n));

    public void AddSessionConfigEntry(nint options, string key, string value)
    {
        fixed (byte* k = Utf8Z(key))
        fixed (byte* v = Utf8Z(value))
            Check(((delegate* unmanaged[Cdecl]<nint, byte*, byte*, nint>)_api[AddSessionConfigEntrySlot])(options, k, v));
    }

    public void AppendCuda(nint options, int deviceId)
    {
        nint cuda;
        Check(((delegate* unmanaged[Cdecl]<nint*, nint>)_api[CreateCudaOptionsSlot])(&cuda));
        try
        {
            var key = Utf8Z("device_id");
            var value = Utf8Z(deviceId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            fixed (byte* k = key)
            fixed (byte* v = value)
            {
                var keys = stackalloc byte*[1] { k };
                var values = stackalloc byte*[1] { v };
                Check(((delegate* unmanaged[Cdecl]<nint, byte**, byte**, nuint, nint>)_api[UpdateCudaOptionsSlot])(cuda, keys, values, 1));
            }
            Check(((delegate* unmanaged[Cdecl]<nint, nint, nint>)_api[AppendCudaV2Slot])(options, cuda));
        }
        finally
        {
            ((delegate* unmanaged[Cdecl]<nint, void>)_api[ReleaseCudaOptionsSlot])(cuda);
        }
    }

    public string[] AvailableProviders()
    {
        byte** list;
        int count;
        Check(((delegate* unmanaged[Cdecl]<byte***, int*, nint>)_api[GetAvailableProvidersSlot])(&list, &count));
        try
        {
            var result = new string[count];
            for (var i = 0; i < count; i++) result[i] = Marshal.PtrToStringUTF8((nint)list[i]) ?? "";
            return result;
        }
        finally
        {
            Check(((delegate* unmanaged[Cdecl]<byte**, int, nint>)_api[ReleaseAvailableProvidersSlot])(list, count));
        }
    }

    public nint CreateSession(nint env, string modelPath, nint options)
    {
        nint session;
        fixed (byte* path = Utf8Z(modelPath))
            Check(((delegate* unmanaged[Cdecl]<nint, byte*, nint, nint*, nint>)_api[CreateSessionSlot])(env, path, options, &session));
        return session;
    }

    public string[] InputNames(nint session) => Names(session, SessionGetInputCountSlot, SessionGetInputNameSlot);
    public string[] OutputNames(nint session) => Names(session, SessionGetOutputCountSlot, SessionGetOutputNameSlot);

    private string[] Names(nint session, int countSlot, int nameSlot)
    {
        nuint count;
        Check(((delegate* unmanaged[Cdecl]<nint, nuint*, nint>)_api[countSlot])(session, &count));
        nint allocator;
        Check(((delegate* unmanaged[Cdecl]<nint*, nint>)_api[GetAllocatorWithDefaultOptionsSlot])(&allocator));
        var names = new string[(int)count];
        for (nuint i = 0; i < count; i++)
        {
            byte* name;
            Check(((delegate* unmanaged[Cdecl]<nint, nuint, nint, byte**, nint>)_api[nameSlot])(session, i, allocator, &name));
            names[i] = Marshal.PtrToStringUTF8((nint)name) ?? "";
            Check(((delegate* unmanaged[Cdecl]<nint, void*, nint>)_api[AllocatorFreeSlot])(allocator, name));
        }
        return names;
    }

    public nint CreateCpuMemoryInfo()
    {
        nint info;
        Check(((delegate* unmanaged[Cdecl]<int, int, nint*, nint>)_api[CreateCpuMemoryInfoSlot])(1 /* OrtArenaAllocator */, 0 /* OrtMemTypeDefault */, &info));
        return info;
    }

    /// <summary>A tensor over caller-owned memory; the memory must stay pinned until the value is released.</summary>
    public nint CreateTensor(nint memoryInfo, void* data, long byteLength, ReadOnlySpan<long> shape, int elementType)
    {
        nint value;
        fixed (long* s = shape)
            Check(((delegate* unmanaged[Cdecl]<nint, void*, nuint, long*, nuint, int, nint*, nint>)_api[CreateTensorWithDataSlot])(
                memoryInfo, data, (nuint)byteLength, s, (nuint)shape.Length, elementType, &value));
        return value;
    }

    public void Run(nint session, byte** inputNames, nint* inputs, int inputCount, byte** outputNames, nint* outputs, int outputCount) =>
        Check(((delegate* unmanaged[Cdecl]<nint, nint, byte**, nint*, nuint, byte**, nuint, nint*, nint>)_api[RunSlot])(
            session, 0, inputNames, inputs, (nuint)inputCount, outputNames, (nuint)outputCount, outputs));

    public void* TensorData(nint value)
    {
        void* data;
        Check(((delegate* unmanaged[Cdecl]<nint, void**, nint>)_api[GetTensorMutableDataSlot])(value, &data));
        return data;
    }

    public long[] TensorShape(nint value)
    {
        nint info;
        Check(((delegate* unmanaged[Cdecl]<nint, nint*, nint>)_api[GetTensorTypeAndShapeSlot])(value, &info));
        try
        {
            nuint n;
            Check(((delegate* unmanaged[Cdecl]<nint, nuint*, nint>)_api[GetDimensionsCountSlot])(info, &n));
            var dims = new long[(int)n];
            fixed (long* d = dims)
                Check(((delegate* unmanaged[Cdecl]<nint, long*, nuint, nint>)_api[GetDimensionsSlot])(info, d, n));
            return dims;
        }
        finally
        {
            ((delegate* unmanaged[Cdecl]<nint, void>)_api[ReleaseTensorTypeAndShapeInfoSlot])(info);
        }
    }

    public void ReleaseValue(nint v) { if (v != 0) ((delegate* unmanaged[Cdecl]<nint, void>)_api[ReleaseValueSlot])(v); }
    public void ReleaseSession(nint s) { if (s != 0) ((delegate* unmanaged[Cdecl]<nint, void>)_api[ReleaseSessionSlot])(s); }
    public void ReleaseSessionOptions(nint o) { if (o != 0) ((delegate* unmanaged[Cdecl]<nint, void>)_api[ReleaseSessionOptionsSlot])(o); }
    public void ReleaseMemoryInfo(nint m) { if (m != 0) ((delegate* unmanaged[Cdecl]<nint, void>)_api[ReleaseMemoryInfoSlot])(m); }
    public void ReleaseEnv(nint e) { if (e != 0) ((delegate* unmanaged[Cdecl]<nint, void>)_api[ReleaseEnvSlot])(e); }

    public static byte[] Utf8Z(string s)
    {
        var bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(s) + 1];
        System.Text.Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }
}
