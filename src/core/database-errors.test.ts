import { describe, expect, it } from "vitest";
import { databaseProblem } from "./database-errors.ts";

const pgError = (code: string) => Object.assign(new Error("server said no"), { code });

describe("databaseProblem", () => {
  it.each(["22021", "22P05", "22008", "22007", "22003", "22P02"])(
    "maps a data exception (SQLSTATE %s) to 422: the request's fault, never retried",
    (code) => {
      const problem = databaseProblem(pgError(code));
      expect(problem.status).toBe(422);
      expect(problem.headers["Retry-After"]).toBeUndefined();
      expect(problem.cause).toEqual({ name: "Error", sqlState: code });
    },
  );

  it.each(["53300", "57P01", "57P03", "08006"])("maps SQLSTATE %s (the server cannot serve now) to 503", (code) => {
    const problem = databaseProblem(pgError(code));
    expect(problem.status).toBe(503);
    expect(problem.headers["Retry-After"]).toBe("5");
  });

  it("maps another SQLSTATE to 500 and a connection failure to 503 with Retry-After", () => {
    expect(databaseProblem(pgError("23505")).status).toBe(409);
    expect(databaseProblem(pgError("23503")).status).toBe(409);
    expect(databaseProblem(pgError("23502")).status).toBe(500);
    expect(databaseProblem(pgError("34000")).status).toBe(500);
    const down = databaseProblem(new Error("connect ECONNREFUSED"));
    expect(down.status).toBe(503);
    expect(down.headers["Retry-After"]).toBe("5");
  });
});
