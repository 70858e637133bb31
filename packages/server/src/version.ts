// The reference server's version, as GetServerInfo reports it; kept equal to package.json's.
export const SERVER_VERSION = "0.2.0";
