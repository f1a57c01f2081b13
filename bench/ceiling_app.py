"""The bare-FastAPI ceiling: POST 1 KB of JSON, validated, answered — no database, no broker."""

from fastapi import FastAPI
from pydantic import BaseModel


class Payload(BaseModel):
    payload: str


app = FastAPI()


@app.post("/bare")
async def bare(body: Payload) -> dict:
    return {"ok": True, "size": len(body.payload)}
